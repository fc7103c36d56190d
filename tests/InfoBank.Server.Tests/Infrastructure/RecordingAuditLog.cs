using System.Collections.Concurrent;
using InfoBank.Server.Features.Audit;

namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>An <see cref="IAuditLog"/> for store-level tests that keeps the drafts it was given.</summary>
public sealed class RecordingAuditLog : IAuditLog
{
    private long _sequence;

    public ConcurrentQueue<AuditEntryDraft> Entries { get; } = new();

    public Task<AuditAppended> AppendAsync(AuditEntryDraft entry, CancellationToken cancellationToken = default)
    {
        Entries.Enqueue(entry);
        return Task.FromResult(new AuditAppended(Interlocked.Increment(ref _sequence) - 1, DateTimeOffset.UtcNow, new byte[32]));
    }
}
