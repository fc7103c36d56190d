using System.Security.Cryptography;
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
public sealed record LinkedResident(string ResidentRef, Guid ResidentId, IReadOnlySet<string> Categories, string TermsVersion);

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
        SELECT account_id, status, terms_version, terms_hash,
               enrolled_at, erased_at
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
        SELECT client_id, resident_ref, categories, linked_at, updated_at
        FROM source_links WHERE resident_id = @residentId ORDER BY client_id
        """;

    private const string SelectLink = """
        SELECT client_id, resident_ref, categories, linked_at, updated_at
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
        SELECT l.resident_ref, l.resident_id, l.categories, r.terms_version
        FROM source_links l JOIN residents r ON r.account_id = l.resident_id
        WHERE l.client_id = @clientId AND r.status = 'enrolled' AND {db.Dialect.InList("l.resident_ref", "refs")}
        """;

    private const string SelectForErasure = "SELECT status, last_key_version FROM residents WHERE account_id = @residentId";
    private const string DeleteKeys = "DELETE FROM resident_keys WHERE resident_id = @residentId";
    private const string DeleteLinks = "DELETE FROM source_links WHERE resident_id = @residentId";
    private const string MarkErased = "UPDATE residents SET status = 'erased', erased_at = @now WHERE account_id = @residentId";

    private const string InsertErasure = """
        INSERT INTO resident_erasures (id, resident_id, erased_at, up_to_key_version)
        VALUES (@id, @residentId, @now, @upToKeyVersion)
        """;

    private const string SelectErasure = """
        SELECT id, resident_id, erased_at, up_to_key_version
        FROM resident_erasures WHERE id = @id
        """;

    private const string SelectPendingErasures = "SELECT id FROM resident_erasures WHERE swept_at IS NULL ORDER BY erased_at";

    private const string CompleteErasure = """
        UPDATE resident_erasures SET swept_at = @now, records_swept = records_swept + @swept WHERE id = @id
        """;

    public Task<ResidentRow?> FindResidentAsync(Guid residentId, CancellationToken cancellationToken = default) =>
        db.ReadAsync(s => FindResidentAsync(s, residentId), cancellationToken);

    public static Task<ResidentRow?> FindResidentAsync(DbSession s, Guid residentId) =>
        s.QuerySingleOrDefaultAsync<ResidentRow>(SelectResident, new { residentId });

    /// <summary>
    /// Records the resident's agreement to the custody terms and, on first enrolment (or after an
    /// erasure), stores their data key (<paramref name="newKey"/>, wrapped before the transaction
    /// opened). Returns the row and whether this enrolled them anew.
    /// </summary>
    public async Task<(ResidentRow Resident, bool NewlyEnrolled)> EnrolAsync(
        DbSession s, Guid residentId, string termsVersion, string termsHash, NewResidentKey newKey, DateTimeOffset now)
    {
        var existing = await FindResidentAsync(s, residentId);
        var args = new { residentId, termsVersion, termsHash, now };
        bool newly;
        if (existing is null)
        {
            await s.ExecuteAsync(InsertResident, args);
            newly = true;
        }
        else if (existing.Status == ResidentStatus.Erased)
        {
            await s.ExecuteAsync(ReEnrol, args);
            newly = true;
        }
        else
        {
            await s.ExecuteAsync(UpdateTerms, args);
            newly = false;
        }
        if (newly)
        {
            await keys.InsertKeyAsync(s, residentId, newKey, now);
        }
        return ((await FindResidentAsync(s, residentId))!, newly);
    }

    public Task<IReadOnlyList<SourceLink>> ListLinksAsync(Guid residentId, CancellationToken cancellationToken = default) =>
        db.ReadAsync<IReadOnlyList<SourceLink>>(async s => (await s.QueryAsync<LinkRow>(SelectLinks, new { residentId })).Select(r => r.ToLink()).ToList(), cancellationToken);

    /// <summary>Creates or updates the link; a new link gets a fresh random reference, an update keeps it.</summary>
    public async Task<(SourceLink Link, bool Created)> UpsertLinkAsync(DbSession s, Guid residentId, string clientId, IReadOnlyList<string> categories, DateTimeOffset now)
    {
        var joined = string.Join(' ', categories);
        var updated = await s.ExecuteAsync(UpdateLink, new { residentId, clientId, categories = joined, now });
        if (updated == 0)
        {
            await s.ExecuteAsync(InsertLink, new { residentId, clientId, residentRef = NewResidentRef(), categories = joined, now });
        }
        var row = await s.QuerySingleAsync<LinkRow>(SelectLink, new { residentId, clientId });
        return (row.ToLink(), updated == 0);
    }

    public async Task<bool> DeleteLinkAsync(DbSession s, Guid residentId, string clientId) =>
        await s.ExecuteAsync(DeleteLink, new { residentId, clientId }) > 0;

    /// <summary>The enrolled residents a source's references name, with what each allowed it to deposit.</summary>
    public Task<Dictionary<string, LinkedResident>> FindLinkedResidentsAsync(string clientId, IReadOnlyCollection<string> refs, CancellationToken cancellationToken) =>
        db.ReadAsync(async s =>
        {
            var result = new Dictionary<string, LinkedResident>(StringComparer.Ordinal);
            // SQL Server allows about 2,100 parameters per statement.
            foreach (var chunk in refs.Chunk(500))
            {
                foreach (var row in await s.QueryAsync<LinkedRow>(SelectLinkedResidents, new { clientId, refs = chunk }))
                {
                    result[row.ResidentRef] = new LinkedResident(row.ResidentRef, row.ResidentId, SplitCategories(row.Categories).ToHashSet(StringComparer.Ordinal), row.TermsVersion);
                }
            }
            return result;
        }, cancellationToken);

    /// <summary>
    /// Crypto-shreds the resident: deletes their data keys and links, marks them erased and records
    /// the erasure, in the caller's transaction, at a cost that does not depend on how many records
    /// they have. The records stay as unreadable ciphertext until the sweep deletes them. Null when
    /// the resident is not enrolled.
    /// </summary>
    public async Task<ErasureRow?> EraseAsync(DbSession s, Guid residentId, DateTimeOffset now)
    {
        var current = await s.QuerySingleOrDefaultAsync<ErasureState>(SelectForErasure, new { residentId });
        if (current is not { Status: ResidentStatus.Enrolled })
        {
            return null;
        }
        await s.ExecuteAsync(DeleteKeys, new { residentId });
        await s.ExecuteAsync(DeleteLinks, new { residentId });
        await s.ExecuteAsync(MarkErased, new { residentId, now });
        var erasure = new ErasureRow { Id = Guid.CreateVersion7(now), ResidentId = residentId, ErasedAt = now, UpToKeyVersion = current.LastKeyVersion };
        await s.ExecuteAsync(InsertErasure, new { id = erasure.Id, residentId, now, upToKeyVersion = current.LastKeyVersion });
        return erasure;
    }

    public Task<ErasureRow?> FindErasureAsync(Guid id, CancellationToken cancellationToken) =>
        db.ReadAsync(s => s.QuerySingleOrDefaultAsync<ErasureRow>(SelectErasure, new { id }), cancellationToken);

    public Task<IReadOnlyList<Guid>> PendingErasuresAsync(CancellationToken cancellationToken) =>
        db.ReadAsync<IReadOnlyList<Guid>>(async s => await s.QueryAsync<Guid>(SelectPendingErasures), cancellationToken);

    public Task CompleteErasureAsync(Guid id, long swept, CancellationToken cancellationToken) =>
        db.InTransactionAsync(s => s.ExecuteAsync(CompleteErasure, new { id, swept, now = time.GetUtcNow() }), cancellationToken);

    // 128 random bits: unguessable, and meaningless to any other source.
    private static string NewResidentRef() => "rr_" + Base64Url.Encode(RandomNumberGenerator.GetBytes(16));

    internal static string[] SplitCategories(string categories) => categories.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private sealed class LinkedRow
    {
        public string ResidentRef { get; init; } = "";

        public Guid ResidentId { get; init; }

        public string Categories { get; init; } = "";

        public string TermsVersion { get; init; } = "";
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
