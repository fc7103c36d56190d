using System.Security.Cryptography;
using Dapper;
using InfoBank.Core.Crypto;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Features.Identity;

/// <summary>Where a page of the account list ends: the account's kind and normalized username.</summary>
public sealed record AccountPosition(string Kind, string Username)
{
    public static AccountPosition Of(Account account) => new(account.Kind.ToText(), AccountStore.Normalize(account.Username));
}

/// <summary>The <c>accounts</c> table. Usernames are matched on their upper-invariant form.</summary>
public sealed class AccountStore(DbConnectionFactory db)
{
    private const string Columns =
        "id, username, display_name, kind, committee_role, created_at, failed_attempts, lockout_until, password_hash";

    private const string InsertSql = """
        INSERT INTO accounts (id, username, username_normalized, password_hash, kind, committee_role, display_name, failed_attempts, lockout_until, created_at)
        VALUES (@id, @username, @username_normalized, @password_hash, @kind, @committee_role, @display_name, 0, NULL, @created_at)
        """;

    private const string ByNameSql = $"SELECT {Columns} FROM accounts WHERE username_normalized = @username_normalized";
    private const string ByIdSql = $"SELECT {Columns} FROM accounts WHERE id = @id";
    private const string ListSql = $"SELECT {Columns} FROM accounts ORDER BY kind, username_normalized";

    // username_normalized is unique, so (kind, username_normalized) is a total order by itself.
    private const string PageSql = $"""
        SELECT {Columns} FROM accounts
        WHERE @afterKind IS NULL OR kind > @afterKind OR (kind = @afterKind AND username_normalized > @afterUsername)
        ORDER BY kind, username_normalized
        """;

    // Every SET expression reads the row's old values, so one statement both counts the failure
    // and, on the last allowed one, starts the lockout and resets the counter, without a race.
    private const string RecordFailureSql = """
        UPDATE accounts
        SET lockout_until = CASE WHEN failed_attempts + 1 >= @max_attempts THEN @lockout_until ELSE lockout_until END,
            failed_attempts = CASE WHEN failed_attempts + 1 >= @max_attempts THEN 0 ELSE failed_attempts + 1 END
        WHERE id = @id
        """;

    private const string RecordSuccessSql = "UPDATE accounts SET failed_attempts = 0, lockout_until = NULL WHERE id = @id";
    private const string UpdateHashSql = "UPDATE accounts SET password_hash = @password_hash WHERE id = @id";
    private const string UnlockSql = "UPDATE accounts SET failed_attempts = 0, lockout_until = NULL WHERE id = @id";

    public static string Normalize(string username) => username.Trim().ToUpperInvariant();

    /// <summary>
    /// How an erased account's username starts. No username can: the grammar allows no ':' (see
    /// <see cref="AccountService"/>), so the prefix alone tells a tombstone from a person.
    /// </summary>
    public const string TombstonePrefix = "erased:";

    public static bool IsTombstone(Account account) => account.Username.StartsWith(TombstonePrefix, StringComparison.Ordinal);

    // The empty hash verifies no password (PasswordHasher refuses it), on top of the sign-in path
    // refusing tombstones outright.
    private const string TombstoneSql = """
        UPDATE accounts SET username = @username, username_normalized = @username_normalized, display_name = '',
            password_hash = '', failed_attempts = 0, lockout_until = NULL
        WHERE id = @id AND kind = 'resident'
        """;

    // Tokens before authorizations: a token row references its authorization.
    private const string DeleteTokensSql = """
        DELETE FROM "OpenIddictTokens" WHERE "Subject" = @subject
            OR "AuthorizationId" IN (SELECT "Id" FROM "OpenIddictAuthorizations" WHERE "Subject" = @subject)
        """;

    private const string DeleteAuthorizationsSql = """DELETE FROM "OpenIddictAuthorizations" WHERE "Subject" = @subject""";

    /// <summary>
    /// Erasure, inside its transaction: the resident's account keeps only its id, under a random
    /// username (so the unique constraint holds and the person's own name is free again) with no
    /// display name and no password; every access and refresh token and authorization issued to it
    /// is deleted, so tokens still held are refused at once (validation looks each one up). Returns
    /// how many token rows went.
    /// </summary>
    public static async Task<int> TombstoneAsync(DbSession s, Guid id)
    {
        var username = TombstonePrefix + Base64Url.Encode(RandomNumberGenerator.GetBytes(16));
        await s.ExecuteAsync(TombstoneSql, new { id, username, username_normalized = Normalize(username) });
        var subject = id.ToString("D");
        var tokens = await s.ExecuteAsync(DeleteTokensSql, new { subject });
        await s.ExecuteAsync(DeleteAuthorizationsSql, new { subject });
        return tokens;
    }

    /// <summary>Inserts the account; false if the username (ignoring case) is taken.</summary>
    public async Task<bool> InsertAsync(Account account, string passwordHash, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var existing = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT COUNT(*) FROM accounts WHERE username_normalized = @username_normalized",
            new { username_normalized = Normalize(account.Username) }, cancellationToken: cancellationToken));
        if (existing > 0)
        {
            return false;
        }
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(InsertSql, new
            {
                id = account.Id,
                username = account.Username,
                username_normalized = Normalize(account.Username),
                password_hash = passwordHash,
                kind = account.Kind.ToText(),
                committee_role = account.CommitteeRole,
                display_name = account.DisplayName,
                created_at = account.CreatedAt,
            }, cancellationToken: cancellationToken));
            return true;
        }
        catch (System.Data.Common.DbException)
        {
            // Lost a race with a concurrent insert of the same name: the unique index decided.
            if (await FindByUsernameAsync(account.Username, cancellationToken) is not null)
            {
                return false;
            }
            throw;
        }
    }

    public async Task<(Account Account, string PasswordHash)?> FindByUsernameAsync(string username, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<AccountRow>(new CommandDefinition(
            ByNameSql, new { username_normalized = Normalize(username) }, cancellationToken: cancellationToken));
        return row is null ? null : (row.ToAccount(), row.password_hash);
    }

    public async Task<Account?> FindAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<AccountRow>(new CommandDefinition(
            ByIdSql, new { id }, cancellationToken: cancellationToken));
        return row?.ToAccount();
    }

    public async Task<IReadOnlyList<Account>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<AccountRow>(new CommandDefinition(ListSql, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToAccount()).ToList();
    }

    /// <summary>One page of the accounts in (kind, username) order after <paramref name="after"/>; <paramref name="limit"/> rows at most.</summary>
    public async Task<IReadOnlyList<Account>> ListAsync(AccountPosition? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<AccountRow>(new CommandDefinition(PageSql + db.Dialect.Limit("limit"),
            new { afterKind = after?.Kind, afterUsername = after?.Username, limit }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToAccount()).ToList();
    }

    public async Task RecordFailureAsync(Guid id, int maxAttempts, DateTimeOffset lockoutUntil, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(RecordFailureSql,
            new { id, max_attempts = maxAttempts, lockout_until = lockoutUntil }, cancellationToken: cancellationToken));
    }

    public async Task RecordSuccessAsync(Guid id, string? rehashed, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(RecordSuccessSql, new { id }, cancellationToken: cancellationToken));
        if (rehashed is not null)
        {
            await connection.ExecuteAsync(new CommandDefinition(UpdateHashSql, new { id, password_hash = rehashed }, cancellationToken: cancellationToken));
        }
    }

    public async Task<bool> UnlockAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(UnlockSql, new { id }, cancellationToken: cancellationToken)) > 0;
    }

#pragma warning disable IDE1006 // Dapper maps snake_case columns onto these names
    private sealed class AccountRow
    {
        public Guid id { get; set; }
        public string username { get; set; } = "";
        public string display_name { get; set; } = "";
        public string kind { get; set; } = "";
        public string? committee_role { get; set; }
        public DateTimeOffset created_at { get; set; }
        public int failed_attempts { get; set; }
        public DateTimeOffset? lockout_until { get; set; }
        public string password_hash { get; set; } = "";

        public Account ToAccount() => new(id, username, display_name, AccountKinds.Parse(kind), committee_role, created_at, failed_attempts, lockout_until);
    }
#pragma warning restore IDE1006
}
