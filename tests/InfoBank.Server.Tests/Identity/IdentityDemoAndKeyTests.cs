using Dapper;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Demo;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;

namespace InfoBank.Server.Tests.Identity;

public sealed class IdentityDemoSeedTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    [Fact]
    public async Task Demo_seed_creates_the_sapporo_callers_once_and_their_credentials_work()
    {
        var seeder = factory.Services.GetRequiredService<DemoSeeder>();
        var first = await seeder.SeedAsync(CancellationToken.None);
        var second = await seeder.SeedAsync(CancellationToken.None);

        // Other features add their own notes; identity's are one per person, one per client, one for the portal app.
        var identityNotes = first.Notes.Where(n => n.Contains(" password ", StringComparison.Ordinal)
            || n.Contains("client_id ", StringComparison.Ordinal)).ToList();
        Assert.Equal(IdentityDemoSeed.People.Count + IdentityDemoSeed.Clients.Count + 1, identityNotes.Count);
        Assert.Empty(second.Notes);

        var resident = first.Notes.Single(n => n.Contains("sato.hanako", StringComparison.Ordinal));
        var password = resident.Split("password ")[1].Trim();
        var tokens = await factory.RunCodeFlowAsync("sato.hanako", password, "resident");
        Assert.False(string.IsNullOrEmpty(tokens.AccessToken));

        var chair = first.Notes.Single(n => n.Contains("ito.ethics", StringComparison.Ordinal));
        Assert.Contains("chair", chair);

        var source = first.Notes.Single(n => n.Contains("source-kenko-steps", StringComparison.Ordinal));
        var secret = source.Split("client_secret ")[1].Trim();
        Assert.False(string.IsNullOrEmpty(await factory.ClientCredentialsTokenAsync("source-kenko-steps", secret)));

        using var scope = factory.Services.CreateScope();
        var directory = scope.ServiceProvider.GetRequiredService<IClientDirectory>();
        var businesses = await directory.ListAsync(ClientKind.Business);
        Assert.Contains(businesses, b => b.ClientId == "business-health-research");
        Assert.Equal(ClientKind.DataSource, (await directory.FindAsync("source-body-scale"))!.Kind);
        Assert.Null(await directory.FindAsync(IdentityDemoSeed.PortalClientId)); // people apps are not machine clients
    }
}

public sealed class IdentityKeysTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"infobank-keys-{Guid.NewGuid():N}.db");
    private readonly EphemeralDataProtectionProvider _protection = new();

    private DbConnectionFactory Db()
    {
        var options = Options.Create(new DatabaseOptions { Provider = DatabaseProvider.Sqlite, ConnectionString = $"Data Source={_path}" });
        new Migrator(options, NullLogger<Migrator>.Instance).Migrate();
        return new DbConnectionFactory(options);
    }

    private IdentityKeys Keys(DbConnectionFactory db, IDataProtectionProvider? protection = null) =>
        new(db, protection ?? _protection, TimeProvider.System, NullLogger<IdentityKeys>.Instance);

    [Fact]
    public void Keys_are_generated_once_and_reloaded_by_the_next_start()
    {
        var db = Db();
        var first = new OpenIddictServerOptions();
        Keys(db).Configure(first);
        var second = new OpenIddictServerOptions();
        Keys(db).Configure(second);

        Assert.Single(first.SigningCredentials);
        Assert.Single(first.EncryptionCredentials);
        Assert.Equal(first.SigningCredentials[0].Key.KeyId, second.SigningCredentials[0].Key.KeyId);
        Assert.Equal(first.EncryptionCredentials[0].Key.KeyId, second.EncryptionCredentials[0].Key.KeyId);
        Assert.NotEqual(first.SigningCredentials[0].Key.KeyId, first.EncryptionCredentials[0].Key.KeyId);

        // The reloaded private key verifies what the first one signed.
        var data = "checkpoint"u8.ToArray();
        var signature = ((RsaSecurityKey)first.SigningCredentials[0].Key).Rsa.SignData(data, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        Assert.True(((RsaSecurityKey)second.SigningCredentials[0].Key).Rsa.VerifyData(data, signature, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1));
    }

    [Fact]
    public void Stored_private_keys_are_unreadable_without_the_data_protection_keys()
    {
        var db = Db();
        Keys(db).Configure(new OpenIddictServerOptions());
        using (var connection = new SqliteConnection($"Data Source={_path}"))
        {
            Assert.Equal(2, connection.ExecuteScalar<int>("SELECT COUNT(*) FROM identity_keys"));
        }
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() =>
            Keys(db, new EphemeralDataProtectionProvider()).Configure(new OpenIddictServerOptions()));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
    }
}
