using System.Data.Common;
using System.Text.Json;
using System.Threading.Channels;
using InfoBank.Core.Audit;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// The single writer of the audit log. Callers enqueue drafts; one loop drains whatever is waiting
/// (up to <see cref="AuditOptions.MaxBatch"/>) into one transaction — entries, completed subtree
/// nodes and the new frontier together — commits, and only then completes each caller's task. Under
/// load many entries share one commit (group commit); alone, an entry commits at once. A caller
/// therefore returns only after its entry is durable, and never waits for a timer.
/// </summary>
public sealed partial class AuditLogWriter : IAuditLog, IAsyncDisposable
{
    private static readonly JsonSerializerOptions PayloadJson = new(JsonSerializerDefaults.Web);

    private readonly AuditStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<AuditLogWriter> _logger;
    private readonly int _maxBatch;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;

    public AuditLogWriter(AuditStore store, TimeProvider time, IOptions<AuditOptions> options, ILogger<AuditLogWriter> logger)
    {
        _store = store;
        _time = time;
        _logger = logger;
        _maxBatch = options.Value.MaxBatch;
        _loop = Task.Run(RunAsync);
    }

    /// <inheritdoc />
    public Task<AuditAppended> AppendAsync(AuditEntryDraft entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (string.IsNullOrWhiteSpace(entry.Kind) || string.IsNullOrWhiteSpace(entry.Actor))
        {
            throw new ArgumentException("An audit entry needs a kind and an actor.", nameof(entry));
        }
        // The columns' limits on the server databases; checked here so one bad draft cannot fail a whole batch.
        if (entry.Kind.Length > 64 || entry.Actor.Length > 200 || entry.SubjectRef?.Length > 200
            || entry.Purpose?.Length > 200 || entry.PolicyHash?.Length > 200)
        {
            throw new ArgumentException("An audit entry's kind is at most 64 characters and its actor, subject, purpose and policy hash at most 200.", nameof(entry));
        }
        // Serialised here, in the caller, so an unserialisable payload fails the caller and not the batch.
        var payload = entry.Payload switch
        {
            null => null,
            string text => JsonSerializer.Serialize(text, PayloadJson),
            JsonElement element => element.GetRawText(),
            var value => JsonSerializer.Serialize(value, value.GetType(), PayloadJson),
        };
        var pending = new Pending(entry, payload, new TaskCompletionSource<AuditAppended>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(AuditLogWriter), "The audit log is shutting down; the entry was not recorded.");
        }
        // Once queued the entry will be written even if this caller stops waiting.
        return pending.Completion.Task.WaitAsync(cancellationToken);
    }

    private async Task RunAsync()
    {
        var batch = new List<Pending>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }
            try
            {
                var results = await WriteWithRetryAsync(batch);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Completion.TrySetResult(results[i]);
                }
            }
            catch (Exception ex)
            {
                LogBatchFailed(_logger, ex, batch.Count);
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetException(new InvalidOperationException("The audit entry could not be recorded.", ex));
                }
            }
            batch.Clear();
        }
    }

    private async Task<AuditAppended[]> WriteWithRetryAsync(List<Pending> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await WriteBatchAsync(batch);
            }
            catch (DbException ex) when (attempt < 3)
            {
                LogBatchRetry(_logger, ex, attempt);
                await Task.Delay(50 * attempt);
            }
        }
    }

    private async Task<AuditAppended[]> WriteBatchAsync(List<Pending> batch)
    {
        await using var connection = await _store.Db.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var row = await _store.ReadFrontierAsync(connection, transaction, forUpdate: true);
        var frontier = CompactRange.FromBytes(row.Size, row.Hashes);

        // Time never goes backwards in the log, even if the clock does: auditors check the order.
        var now = AuditEntryEncoding.Truncate(_time.GetUtcNow());
        if (row.LastTime is { } last && now < last)
        {
            now = last;
        }

        var entries = new List<AuditRow>(batch.Count);
        var nodes = new List<NodeRow>();
        var results = new AuditAppended[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var draft = batch[i].Draft;
            var entry = new AuditEntry(frontier.Size, now, draft.Kind, draft.Actor, draft.SubjectRef, draft.Purpose,
                draft.GrantId, draft.PolicyHash, batch[i].Payload, draft.SealedPersonalData);
            var leaf = entry.LeafHash();
            frontier.Append(leaf, (level, index, hash) => nodes.Add(new NodeRow(level, index, hash)));
            entries.Add(new AuditRow
            {
                Sequence = entry.Sequence,
                Time = entry.Time,
                Kind = entry.Kind,
                Actor = entry.Actor,
                SubjectRef = entry.SubjectRef,
                Purpose = entry.Purpose,
                GrantId = entry.GrantId,
                PolicyHash = entry.PolicyHash,
                Payload = entry.Payload,
                Sealed = entry.SealedPersonalData,
                LeafHash = leaf,
            });
            results[i] = new AuditAppended(entry.Sequence, entry.Time, leaf);
        }
        await _store.WriteBatchAsync(connection, transaction, entries, nodes, row.Size, frontier, now);
        await transaction.CommitAsync();
        return results;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
    }

    private sealed record Pending(AuditEntryDraft Draft, string? Payload, TaskCompletionSource<AuditAppended> Completion);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit batch of {Count} entries failed; callers were told")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit batch write failed on attempt {Attempt}; retrying")]
    private static partial void LogBatchRetry(ILogger logger, Exception exception, int attempt);
}
