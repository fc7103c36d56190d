using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Tests.Infrastructure;
using InfoBank.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Custody;

/// <summary>
/// The real custody services as the CLI composes them (AddInfoBankCore): a DataProtection key ring
/// in the test database, encrypted under a master key file in a temp folder, so key-encryption-key
/// rotation is exercised for real rather than with the ephemeral provider.
/// </summary>
public sealed class CustodyHarness : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly AsyncServiceScope _scope;

    public CustodyHarness(DatabaseFixture database, string? masterKeyFile = null)
    {
        Directory = Path.Combine(Path.GetTempPath(), "infobank-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        // One master key per database: the fixture's database (and its encrypted key ring) outlives
        // each test's harness, so the key that encrypted it must too.
        MasterKeyFile = masterKeyFile ?? Path.Combine(Path.GetTempPath(), "infobank-tests",
            "master-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(database.ConnectionString)))[..16] + ".key");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Database:Provider"] = database.Provider.ToString(),
            ["Database:ConnectionString"] = database.ConnectionString,
            ["Custody:MasterKeyFile"] = MasterKeyFile,
            ["Custody:RetiredKeyGraceSeconds"] = "0",
            ["Signing:KeyDirectory"] = Path.Combine(Directory, "signing"),
        }).Build();
        Audit = new RecordingAuditLog(database.Connections);
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddInfoBankCore();
        services.AddSingleton<IAuditLog>(Audit);
        _services = services.BuildServiceProvider();
        _scope = _services.CreateAsyncScope();
    }

    public string Directory { get; }

    public string MasterKeyFile { get; }

    public RecordingAuditLog Audit { get; }

    public T Get<T>()
        where T : notnull => _scope.ServiceProvider.GetRequiredService<T>();

    public CustodyStore Store => Get<CustodyStore>();

    public RecordVault Vault => Get<RecordVault>();

    public ResidentKeyRing Keys => Get<ResidentKeyRing>();

    public KeyRotation Rotation => Get<KeyRotation>();

    public DbConnectionFactory Db => Get<DbConnectionFactory>();

    public async Task<Guid> EnrolledResidentAsync()
    {
        var id = Guid.NewGuid();
        await Store.EnrolAsync(Db, Keys, id, CustodyTerms.Current.Version, CustodyTerms.Current.Hash, CancellationToken.None);
        return id;
    }

    public void Dispose()
    {
        _scope.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _services.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
