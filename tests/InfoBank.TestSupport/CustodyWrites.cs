using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.TestSupport;

/// <summary>
/// Custody writes for tests and benchmarks that set up residents and records directly, without the
/// HTTP API. The server makes each of these in the audited transaction of the request that asks for
/// it; here each commits on its own, unaudited, which is only right for setting up data.
/// </summary>
public static class CustodyWrites
{
    /// <summary>Seals and stores <paramref name="records"/>; per record its new id, or null for a duplicate.</summary>
    public static async Task<Guid?[]> InsertAsync(this RecordVault vault, DbConnectionFactory db, string sourceClientId, IReadOnlyList<NewRecord> records, CancellationToken cancellationToken)
    {
        var batch = await vault.SealAsync(sourceClientId, records, cancellationToken);
        return await db.InTransactionAsync(s => vault.InsertAsync(s, batch, cancellationToken), cancellationToken);
    }

    public static async Task<(ResidentRow Resident, bool NewlyEnrolled)> EnrolAsync(
        this CustodyStore store, DbConnectionFactory db, ResidentKeyRing keys, Guid residentId, string termsVersion, string termsHash, CancellationToken cancellationToken)
    {
        var key = keys.NewKey(residentId);
        var result = await db.InTransactionAsync(s => store.EnrolAsync(s, residentId, termsVersion, termsHash, key, DateTimeOffset.UtcNow), cancellationToken);
        keys.Forget(residentId);
        return result;
    }

    public static Task<(SourceLink Link, bool Created)> UpsertLinkAsync(
        this CustodyStore store, DbConnectionFactory db, Guid residentId, string clientId, IReadOnlyList<string> categories, CancellationToken cancellationToken) =>
        db.InTransactionAsync(s => store.UpsertLinkAsync(s, residentId, clientId, categories, DateTimeOffset.UtcNow), cancellationToken);

    public static async Task<ErasureRow?> EraseAsync(this CustodyStore store, DbConnectionFactory db, ResidentKeyRing keys, Guid residentId, CancellationToken cancellationToken)
    {
        var erasure = await db.InTransactionAsync(s => store.EraseAsync(s, residentId, DateTimeOffset.UtcNow), cancellationToken);
        keys.Forget(residentId);
        return erasure;
    }
}
