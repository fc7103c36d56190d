using InfoBank.Core.Access;
using InfoBank.Server.Features.Access;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.TestSupport;

/// <summary>
/// Store-level writes for tests that set up access-log rows or releases directly. The server only
/// writes these in the audited transaction of the access they record; here they commit on their own.
/// </summary>
public static class AccessStoreWrites
{
    public static Task RecordAsync(this AccessStore store, AccessLogEntry entry, IReadOnlyList<Provision> provisions, CancellationToken cancellationToken) =>
        store.Db.InTransactionAsync(async s =>
        {
            await AccessStore.RecordAsync(s, entry, provisions);
            return true;
        }, cancellationToken);

    public static Task<bool> SaveReleaseAsync(this AccessStore store, Guid grantId, string bucket, IReadOnlyList<(string Category, ReleasedCell Cell)> cells, DateTimeOffset at, CancellationToken cancellationToken) =>
        store.Db.InTransactionAsync(s => AccessStore.SaveReleaseAsync(s, grantId, bucket, cells, at), cancellationToken);
}
