using System.Data.Common;
using System.Security.Cryptography;
using Dapper;
using InfoBank.Core.Crypto;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Features.Custody;

public static class ResidentStatus
{
    public const string Enrolled = "enrolled";
    public const string Erased = "erased";
}

public sealed class ResidentRow
{
    public Guid AccountId { get; init; }

    public string Status { get; init; } = "";

    public string TermsVersion { get; init; } = "";

    public string TermsHash { get; init; } = "";

    public DateTimeOffset EnrolledAt { get; init; }

    public DateTimeOffset? ErasedAt { get; init; }
}

public sealed record SourceLink(string ClientId, string ResidentRef, IReadOnlyList<string> Categories, DateTimeOffset LinkedAt, DateTimeOffset UpdatedAt);

/// <summary>A link as a deposit sees it: which resident a source's reference names, and what it may deposit.</summary>
public sealed record LinkedResident(string ResidentRef, Guid ResidentId, IReadOnlySet<string> Categories);

public sealed class ErasureRow
{
    public Guid Id { get; init; }

    public Guid ResidentId { get; init; }

    public DateTimeOffset ErasedAt { get; init; }

    public int UpToKeyVersion { get; init; }
}

/// <summary>Residents, their source links and erasures (the records themselves are in <see cref="RecordVault"/>).</summary>
public sealed class CustodyStore(DbConnectionFactory db, ResidentKeyRing keys, TimeProvider time)
{
    private const string SelectResident = """
        SELECT account_id AS AccountId, status AS Status, terms_version AS TermsVersion, terms_hash AS TermsHash,
               enrolled_at AS EnrolledAt, erased_at AS ErasedAt
        FROM residents WHERE account_id = @residentId
        """;

    private const string InsertResident = """
        INSERT INTO residents (account_id, status, terms_version, terms_hash, enrolled_at)
        VALUES (@residentId, 'enrolled', @termsVersion, @termsHash, @now)
        """;

    private const string ReEnrol = """
        UPDATE residents SET status = 'enrolled', terms_version = @termsVersion, terms_hash = @termsHash,
               enrolled_at = @now, erased_at = NULL
        WHERE account_id = @residentId
        """;

    private const string UpdateTerms = """
        UPDATE residents SET terms_version = @termsVersion, terms_hash = @termsHash, enrolled_at = @now
        WHERE account_id = @residentId AND status = 'enrolled'
        """;

    private const string SelectLinks = """
        SELECT client_id AS ClientId, resident_ref AS ResidentRef, categories AS Categories, linked_at AS LinkedAt, updated_at AS UpdatedAt
        FROM source_links WHERE resident_id = @residentId ORDER BY client_id
        """;

    private const string SelectLink = """
        SELECT client_id AS ClientId, resident_ref AS ResidentRef, categories AS Categories, linked_at AS LinkedAt, updated_at AS UpdatedAt
        FROM source_links WHERE resident_id = @residentId AND client_id = @clientId
        """;

    private const string InsertLink = """
        INSERT INTO source_links (resident_id, client_id, resident_ref, categories, linked_at, updated_at)
        VALUES (@residentId, @clientId, @residentRef, @categories, @now, @now)
        """;

    private const string UpdateLink = """
        UPDATE source_links SET categories = @categories, updated_at = @now
        WHERE resident_id = @residentId AND client_id = @clientId
        """;

    private const string DeleteLink = "DELETE FROM source_links WHERE resident_id = @residentId AND client_id = @clientId";

    // Only enrolled residents: an erased resident has no links, but the join makes it explicit.
    private string SelectLinkedResidents => $"""
        SELECT l.resident_ref AS ResidentRef, l.resident_id AS ResidentId, l.categories AS Categories
        FROM source_links l JOIN residents r ON r.account_id = l.resident_id
        WHERE l.client_id = @clientId AND r.status = 'enrolled' AND {db.Dialect.InList("l.resident_ref", "refs")}
        """;

    private const string SelectForErasure = "SELECT status AS Status, last_key_version AS LastKeyVersion FROM residents WHERE account_id = @residentId";
    private const string DeleteKeys = "DELETE FROM resident_keys WHERE resident_id = @residentId";
    private const string DeleteLinks = "DELETE FROM source_links WHERE resident_id = @residentId";
    private const string MarkErased = "UPDATE residents SET status = 'erased', erased_at = @now WHERE account_id = @residentId";

    private const string InsertErasure = """
        INSERT INTO resident_erasures (id, resident_id, erased_at, up_to_key_version)
        VALUES (@id, @residentId, @now, @upToKeyVersion)
        """;

    private const string SelectErasure = """
        SELECT id AS Id, resident_id AS ResidentId, erased_at AS ErasedAt, up_to_key_version AS UpToKeyVersion
        FROM resident_erasures WHERE id = @id
        """;

    private const string SelectPendingErasures = "SELECT id FROM resident_erasures WHERE swept_at IS NULL ORDER BY erased_at";

    private const string CompleteErasure = """
        UPDATE resident_erasures SET swept_at = @now, records_swept = records_swept + @swept WHERE id = @id
        """;

    public async Task<ResidentRow?> FindResidentAsync(Guid residentId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<ResidentRow>(new CommandDefinition(SelectResident, new { residentId }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Records the resident's agreement to the custody terms and, on first enrolment (or after an
    /// erasure), creates their data key. Returns the row and whether this enrolled them anew.
    /// </summary>
    public async Task<(ResidentRow Resident, bool NewlyEnrolled)> EnrolAsync(Guid residentId, string termsVersion, string termsHash, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var newKey = keys.NewKey(residentId);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var existing = await connection.QuerySingleOrDefaultAsync<ResidentRow>(new CommandDefinition(SelectResident, new { residentId }, transaction, cancellationToken: cancellationToken));
        var args = new { residentId, termsVersion, termsHash, now };
        bool newly;
        if (existing is null)
        {
            await connection.ExecuteAsync(new CommandDefinition(InsertResident, args, transaction, cancellationToken: cancellationToken));
            newly = true;
        }
        else if (existing.Status == ResidentStatus.Erased)
        {
            await connection.ExecuteAsync(new CommandDefinition(ReEnrol, args, transaction, cancellationToken: cancellationToken));
            newly = true;
        }
        else
        {
            await connection.ExecuteAsync(new CommandDefinition(UpdateTerms, args, transaction, cancellationToken: cancellationToken));
            newly = false;
        }
        if (newly)
        {
            await keys.InsertKeyAsync(connection, transaction, residentId, newKey, cancellationToken);
        }
        var row = await connection.QuerySingleAsync<ResidentRow>(new CommandDefinition(SelectResident, new { residentId }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        keys.Forget(residentId);
        return (row, newly);
    }

    public async Task<IReadOnlyList<SourceLink>> ListLinksAsync(Guid residentId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<LinkRow>(new CommandDefinition(SelectLinks, new { residentId }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToLink()).ToList();
    }

    /// <summary>Creates or updates the link; a new link gets a fresh random reference, an update keeps it.</summary>
    public async Task<(SourceLink Link, bool Created)> UpsertLinkAsync(Guid residentId, string clientId, IReadOnlyList<string> categories, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var joined = string.Join(' ', categories);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var updated = await connection.ExecuteAsync(new CommandDefinition(UpdateLink, new { residentId, clientId, categories = joined, now }, transaction, cancellationToken: cancellationToken));
        if (updated == 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(InsertLink, new { residentId, clientId, residentRef = NewResidentRef(), categories = joined, now }, transaction, cancellationToken: cancellationToken));
        }
        var row = await connection.QuerySingleAsync<LinkRow>(new CommandDefinition(SelectLink, new { residentId, clientId }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return (row.ToLink(), updated == 0);
    }

    public async Task<bool> DeleteLinkAsync(Guid residentId, string clientId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(DeleteLink, new { residentId, clientId }, cancellationToken: cancellationToken)) > 0;
    }

    /// <summary>The enrolled residents a source's references name, with what each allowed it to deposit.</summary>
    public async Task<Dictionary<string, LinkedResident>> FindLinkedResidentsAsync(string clientId, IReadOnlyCollection<string> refs, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, LinkedResident>(StringComparer.Ordinal);
        await using var connection = await db.OpenAsync(cancellationToken);
        // SQL Server allows about 2,100 parameters per statement.
        foreach (var chunk in refs.Chunk(500))
        {
            var rows = await connection.QueryAsync<LinkedRow>(
                new CommandDefinition(SelectLinkedResidents, new { clientId, refs = chunk }, cancellationToken: cancellationToken));
            foreach (var row in rows)
            {
                result[row.ResidentRef] = new LinkedResident(row.ResidentRef, row.ResidentId, SplitCategories(row.Categories).ToHashSet(StringComparer.Ordinal));
            }
        }
        return result;
    }

    /// <summary>
    /// Crypto-shreds the resident: deletes their data keys and links, marks them erased and records
    /// the erasure, all in one small transaction whose cost does not depend on how many records they
    /// have. The records stay as unreadable ciphertext until the sweep deletes them. Null when the
    /// resident is not enrolled.
    /// </summary>
    public async Task<ErasureRow?> EraseAsync(Guid residentId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var current = await connection.QuerySingleOrDefaultAsync<ErasureState>(
            new CommandDefinition(SelectForErasure, new { residentId }, transaction, cancellationToken: cancellationToken));
        if (current is not { Status: ResidentStatus.Enrolled })
        {
            return null;
        }
        await connection.ExecuteAsync(new CommandDefinition(DeleteKeys, new { residentId }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(DeleteLinks, new { residentId }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(MarkErased, new { residentId, now }, transaction, cancellationToken: cancellationToken));
        var erasure = new ErasureRow { Id = Guid.CreateVersion7(now), ResidentId = residentId, ErasedAt = now, UpToKeyVersion = current.LastKeyVersion };
        await connection.ExecuteAsync(new CommandDefinition(InsertErasure, new { id = erasure.Id, residentId, now, upToKeyVersion = current.LastKeyVersion }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        keys.Forget(residentId);
        return erasure;
    }

    public async Task<ErasureRow?> FindErasureAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<ErasureRow>(new CommandDefinition(SelectErasure, new { id }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<Guid>> PendingErasuresAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<Guid>(new CommandDefinition(SelectPendingErasures, cancellationToken: cancellationToken))).ToList();
    }

    public async Task CompleteErasureAsync(Guid id, long swept, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(CompleteErasure, new { id, swept, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    // 128 random bits: unguessable, and meaningless to any other source.
    private static string NewResidentRef() => "rr_" + Base64Url.Encode(RandomNumberGenerator.GetBytes(16));

    internal static string[] SplitCategories(string categories) => categories.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private sealed class LinkedRow
    {
        public string ResidentRef { get; init; } = "";

        public Guid ResidentId { get; init; }

        public string Categories { get; init; } = "";
    }

    private sealed class ErasureState
    {
        public string Status { get; init; } = "";

        public int LastKeyVersion { get; init; }
    }

    private sealed class LinkRow
    {
        public string ClientId { get; init; } = "";

        public string ResidentRef { get; init; } = "";

        public string Categories { get; init; } = "";

        public DateTimeOffset LinkedAt { get; init; }

        public DateTimeOffset UpdatedAt { get; init; }

        public SourceLink ToLink() => new(ClientId, ResidentRef, SplitCategories(Categories), LinkedAt, UpdatedAt);
    }
}
