using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>
/// An <see cref="IAuditLog"/> for service-level tests that keeps the drafts it was given, in order,
/// with increasing sequences. Changes run for real in a transaction on <paramref name="db"/> (one at
/// a time, as the real writer runs them), and their drafts are kept only once that commits; with
/// <see cref="Fail"/> set, every append and commit fails and nothing is kept or changed. Entries are
/// timed by <paramref name="time"/> (the system clock when null), as the real writer times them.
/// </summary>
public sealed class RecordingAuditLog(DbConnectionFactory? db = null, TimeProvider? time = null) : IAuditLog
{
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _writer = new(1, 1);
    private readonly List<AuditEntryDraft> _entries = [];

    /// <summary>What was recorded so far, in order (entry i has sequence i).</summary>
    public IReadOnlyList<AuditEntryDraft> Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    public bool Fail { get; set; }

    public Task<AuditAppended> AppendAsync(AuditEntryDraft entry, CancellationToken cancellationToken = default)
    {
        if (Fail)
        {
            throw new IOException("audit log unavailable");
        }
        lock (_lock)
        {
            _entries.Add(entry);
            return Task.FromResult(new AuditAppended(_entries.Count - 1, (time ?? TimeProvider.System).GetUtcNow(), new byte[32]));
        }
    }

    public async Task<T> CommitAsync<T>(Func<AuditScope, CancellationToken, Task<T>> change, CancellationToken cancellationToken = default)
    {
        var factory = db ?? throw new InvalidOperationException("This RecordingAuditLog was made without a database, so it cannot run changes.");
        await _writer.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await factory.OpenAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            int first;
            lock (_lock)
            {
                first = _entries.Count;
            }
            var scope = new Scope(new DbSession(connection, transaction, factory.Dialect), (time ?? TimeProvider.System).GetUtcNow(), first);
            var result = await change(scope, CancellationToken.None);
            if (Fail)
            {
                throw new IOException("audit log unavailable");
            }
            if (scope.Abandoned)
            {
                await transaction.RollbackAsync(cancellationToken);
                return result;
            }
            await transaction.CommitAsync(cancellationToken);
            lock (_lock)
            {
                _entries.AddRange(scope.Drafts);
            }
            return result;
        }
        finally
        {
            _writer.Release();
        }
    }

    private sealed class Scope(DbSession session, DateTimeOffset now, long first) : AuditScope
    {
        public List<AuditEntryDraft> Drafts { get; } = [];

        public bool Abandoned { get; private set; }

        public override DbSession Db => session;

        public override DateTimeOffset Now => now;

        public List<Guid> Retired { get; } = [];

        public override AuditPosition Append(AuditEntryDraft entry)
        {
            Drafts.Add(entry);
            return new AuditPosition(first + Drafts.Count - 1, now);
        }

        public override void RetirePseudonym(Guid residentId) => Retired.Add(residentId);

        public override void Abandon() => Abandoned = true;
    }
}
