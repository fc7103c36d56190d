using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenIddict.Server;

namespace InfoBank.Server.Tests.Identity;

/// <summary>The accounts table and the key table on every configured database.</summary>
public abstract class AccountStoreTests<TFixture>(TFixture database) : StoreTestBase<TFixture>(database)
    where TFixture : DatabaseFixture
{
    private readonly ShiftableTimeProvider _time = new();
    private readonly RecordingAuditLog _audit = new();

    private AccountService Service() => new(
        new AccountStore(Database.Connections),
        _audit,
        Options.Create(new IdentitySettings()),
        _time,
        NullLogger<AccountService>.Instance);

    private static string Name() => "u-" + Guid.NewGuid().ToString("N")[..10];

    [SkippableFact]
    public async Task Created_account_reads_back_and_signs_in()
    {
        var service = Service();
        var created = await service.CreateAsync(new NewAccount(Name(), "Ito Makoto", AccountKind.Committee, "chair", "a long enough password"));
        var account = await service.SignInAsync(created.Account.Username.ToUpperInvariant(), "a long enough password");
        Assert.NotNull(account);
        Assert.Equal(created.Account.Id, account.Id);
        Assert.Equal(AccountKind.Committee, account.Kind);
        Assert.Equal("chair", account.CommitteeRole);
        Assert.Equal(created.Account.CreatedAt.ToUnixTimeSeconds(), account.CreatedAt.ToUnixTimeSeconds());
    }

    [SkippableFact]
    public async Task Usernames_are_unique_ignoring_case()
    {
        var service = Service();
        var name = Name();
        await service.CreateAsync(new NewAccount(name, "A", AccountKind.Resident));
        var e = await Assert.ThrowsAsync<AccountRejectedException>(() => service.CreateAsync(new NewAccount(name.ToUpperInvariant(), "B", AccountKind.Resident)));
        Assert.Contains("taken", e.Message);
    }

    [SkippableFact]
    public async Task Fifth_failure_locks_and_resets_the_counter()
    {
        var service = Service();
        var created = await service.CreateAsync(new NewAccount(Name(), "A", AccountKind.Resident, Password: "a long enough password"));
        for (var i = 0; i < 4; i++)
        {
            Assert.Null(await service.SignInAsync(created.Account.Username, "wrong"));
        }
        var before = (await service.ListAsync()).Single(a => a.Id == created.Account.Id);
        Assert.Equal(4, before.FailedAttempts);
        Assert.Null(before.LockoutUntil);

        Assert.Null(await service.SignInAsync(created.Account.Username, "wrong"));
        var locked = (await service.ListAsync()).Single(a => a.Id == created.Account.Id);
        Assert.Equal(0, locked.FailedAttempts);
        Assert.NotNull(locked.LockoutUntil);
        Assert.Null(await service.FindActiveAsync(created.Account.Id));
        Assert.Null(await service.SignInAsync(created.Account.Username, "a long enough password"));

        Assert.True(await service.UnlockAsync(created.Account.Id));
        Assert.NotNull(await service.SignInAsync(created.Account.Username, "a long enough password"));

        // Every attempt is in the audit trail, by account reference, never by the typed name.
        var entries = _audit.Entries.ToList();
        Assert.Equal(6, entries.Count(e => e.Kind == AuditKinds.SignInFailed));
        var success = Assert.Single(entries, e => e.Kind == AuditKinds.SignInSucceeded);
        Assert.Equal($"resident:{created.Account.Id}", success.Actor);
        Assert.Equal(created.Account.Id.ToString(), success.SubjectRef);
        Assert.All(entries, e => Assert.DoesNotContain(created.Account.Username, System.Text.Json.JsonSerializer.Serialize(e)));
    }

    [SkippableFact]
    public async Task The_schema_refuses_a_committee_account_without_a_role()
    {
        await using var connection = await Database.Connections.OpenAsync();
        var insert = "INSERT INTO accounts (id, username, username_normalized, password_hash, kind, committee_role, display_name, created_at) " +
                     "VALUES (@id, @u, @n, 'x', 'committee', NULL, 'x', @t)";
        var name = Name();
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() =>
            connection.ExecuteAsync(insert, new { id = Guid.NewGuid(), u = name, n = name.ToUpperInvariant(), t = DateTimeOffset.UtcNow }));
    }

    [SkippableFact]
    public void Token_server_keys_round_trip_through_the_database()
    {
        var protection = new EphemeralDataProtectionProvider();
        var first = new OpenIddictServerOptions();
        new IdentityKeys(Database.Connections, protection, _time, NullLogger<IdentityKeys>.Instance).Configure(first);
        var second = new OpenIddictServerOptions();
        new IdentityKeys(Database.Connections, protection, _time, NullLogger<IdentityKeys>.Instance).Configure(second);
        Assert.Equal(first.SigningCredentials.Select(c => c.Key.KeyId), second.SigningCredentials.Select(c => c.Key.KeyId));
        Assert.Single(second.EncryptionCredentials);
    }
}

public sealed class SqliteAccountStoreTests(SqliteFixture database) : AccountStoreTests<SqliteFixture>(database);

public sealed class PostgresAccountStoreTests(PostgresFixture database) : AccountStoreTests<PostgresFixture>(database);

public sealed class SqlServerAccountStoreTests(SqlServerFixture database) : AccountStoreTests<SqlServerFixture>(database);
