using System.Data.Common;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using InfoBank.Core.Audit;
using InfoBank.Core.Crypto;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// The single writer of the audit log. Callers enqueue work — a lone entry, or a change with the
/// entries it appends — and one loop drains whatever is waiting (up to
/// <see cref="AuditOptions.MaxBatch"/> items) into one transaction: it locks the frontier, runs each
/// change in turn (each under its own savepoint, so one change that fails or abandons leaves the
/// others alone), inserts the entries and the subtree nodes they complete, moves the frontier,
/// commits, and only then completes each caller's task. Under load many callers share one commit
/// (group commit); alone, a caller commits at once and never waits for a timer.
/// <para>
/// Because a change and its entries commit together, and the loop takes work in the order it was
/// queued, every change is audited exactly once, before anyone is told it happened, and in causal
/// order: a request that saw the effect of another was queued after that one had committed.
/// </para>
/// </summary>
public sealed partial class AuditLogWriter : IAuditLog, IAsyncDisposable
{
    private static readonly JsonSerializerOptions PayloadJson = new(JsonSerializerDefaults.Web);

    // Set while a change runs on the writer's loop: calling back into the log from there would wait
    // for the very batch that is running.
    private static readonly AsyncLocal<bool> InsideChange = new();

    private readonly AuditStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<AuditLogWriter> _logger;
    private readonly int _maxBatch;
    private readonly Channel<Work> _queue = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
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
        var prepared = Prepare(entry);
        var work = new EntryWork(prepared);
        Enqueue(work);
        // Once queued the entry will be written even if this caller stops waiting.
        return work.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<T> CommitAsync<T>(Func<AuditScope, CancellationToken, Task<T>> change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        var work = new ChangeWork(async (scope, ct) => await change(scope, ct));
        Enqueue(work);
        return (T)(await work.Completion.Task.WaitAsync(cancellationToken))!;
    }

    private void Enqueue(Work work)
    {
        if (InsideChange.Value)
        {
            throw new InvalidOperationException("A change running in the audit log's transaction cannot call the log again; append through its AuditScope.");
        }
        if (!_queue.Writer.TryWrite(work))
        {
            throw new ObjectDisposedException(nameof(AuditLogWriter), "The audit log is shutting down; nothing was recorded.");
        }
    }

    /// <summary>Checks and serialises a draft in the caller, so one bad draft fails its caller and not the batch.</summary>
    private static PreparedEntry Prepare(AuditEntryDraft entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (string.IsNullOrWhiteSpace(entry.Kind) || string.IsNullOrWhiteSpace(entry.Actor))
        {
            throw new ArgumentException("An audit entry needs a kind and an actor.", nameof(entry));
        }
        // The columns' limits on the server databases.
        if (entry.Kind.Length > 64 || entry.Actor.Length > 200 || entry.SubjectRef?.Length > 200
            || entry.Purpose?.Length > 200 || entry.PolicyHash?.Length > 200)
        {
            throw new ArgumentException("An audit entry's kind is at most 64 characters and its actor, subject, purpose and policy hash at most 200.", nameof(entry));
        }
        var payload = entry.Payload switch
        {
            null => null,
            string text => JsonSerializer.Serialize(text, PayloadJson),
            JsonElement element => element.GetRawText(),
            var value => JsonSerializer.Serialize(value, value.GetType(), PayloadJson),
        };
        // Both become the resident's pseudonym; anything else would reach the log as written.
        if ((entry.SubjectRef is { } subject && !Guid.TryParse(subject, out _))
            || (entry.Actor.StartsWith(ResidentActorPrefix, StringComparison.Ordinal) && ResidentActor(entry.Actor) is null))
        {
            throw new ArgumentException("An audit entry's subject and resident actor name a resident by internal id; the log writes their pseudonym.", nameof(entry));
        }
        if (entry.Residents is not null && payload is not null && JsonNode.Parse(payload) is not JsonObject)
        {
            throw new ArgumentException("An entry that names residents needs an object payload to put them in.", nameof(entry));
        }
        return new PreparedEntry(entry, payload);
    }

    private async Task RunAsync()
    {
        var batch = new List<Work>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }
            try
            {
                await WriteWithRetryAsync(batch);
                foreach (var work in batch)
                {
                    work.Complete();
                }
            }
            catch (Exception ex)
            {
                LogBatchFailed(_logger, ex, batch.Count);
                foreach (var work in batch)
                {
                    work.Fail(new AuditUnavailableException(ex));
                }
            }
            batch.Clear();
        }
    }

    private async Task WriteWithRetryAsync(List<Work> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            foreach (var work in batch)
            {
                work.Reset();
            }
            try
            {
                await WriteBatchAsync(batch);
                return;
            }
            catch (DbException ex) when (attempt < 3)
            {
                // The whole transaction rolled back (a lost connection, a deadlock): every change runs
                // again from the start, on the state as it is now.
                LogBatchRetry(_logger, ex, attempt);
                await Task.Delay(50 * attempt);
            }
        }
    }

    private async Task WriteBatchAsync(List<Work> batch)
    {
        await using var connection = await _store.Db.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var row = await _store.ReadFrontierAsync(connection, transaction, forUpdate: true);

        // Time never goes backwards in the log, even if the clock does: auditors check the order.
        var now = AuditEntryEncoding.Truncate(_time.GetUtcNow());
        if (row.LastTime is { } last && now < last)
        {
            now = last;
        }
        var pending = new PendingEntries(row.Size, now);
        var session = new DbSession(connection, transaction, _store.Db.Dialect);
        // A lone change needs no savepoint: if it fails, the whole transaction is its to roll back.
        var savepoints = batch.Count > 1;
        var committable = false;
        foreach (var work in batch)
        {
            switch (work)
            {
                case EntryWork entry:
                    entry.Index = pending.Add(entry.Entry);
                    committable = true;
                    break;
                case ChangeWork change:
                    committable |= await RunChangeAsync(change, session, pending, savepoints);
                    break;
            }
        }
        if (!committable)
        {
            await transaction.RollbackAsync();
            return;
        }
        if (pending.Count > 0)
        {
            var pseudonyms = await PseudonymsAsync(session, pending.ResidentsNamed(), now);
            var frontier = CompactRange.FromBytes(row.Size, row.Hashes);
            var (entries, nodes) = pending.Build(frontier, pseudonyms);
            await _store.WriteBatchAsync(connection, transaction, entries, nodes, row.Size, frontier, now);
            foreach (var work in batch.OfType<EntryWork>())
            {
                var written = entries[work.Index];
                work.Appended = new AuditAppended(written.Sequence, written.Time, written.LeafHash);
            }
        }
        if (pending.Retired.Count > 0)
        {
            // After every entry of the batch has used them: erasure's own entries still name the resident.
            await AuditStore.DeletePseudonymsAsync(session, pending.Retired);
        }
        await transaction.CommitAsync();
    }

    /// <summary>Runs one change; returns whether the transaction holds something of it to commit.</summary>
    private static async Task<bool> RunChangeAsync(ChangeWork change, DbSession session, PendingEntries pending, bool savepoint)
    {
        const string name = "audited_change";
        var mark = pending.Mark();
        if (savepoint)
        {
            await session.WriteTransaction.SaveAsync(name);
        }
        var scope = new Scope(session, pending);
        InsideChange.Value = true;
        try
        {
            change.Result = await change.Change(scope, CancellationToken.None);
        }
        catch (Exception ex) when (savepoint || ex is not DbException)
        {
            // The change's own failure (a refusal, a conflict): undone, reported to its caller alone.
            // A database error in a lone change propagates instead, so the batch is retried.
            change.Error = ex;
        }
        finally
        {
            InsideChange.Value = false;
            scope.Close();
        }
        if (change.Error is null && !scope.Abandoned)
        {
            if (savepoint && session.WriteTransaction.SupportsSavepoints && session.Dialect.ReleasesSavepoints)
            {
                await session.WriteTransaction.ReleaseAsync(name);
            }
            return true;
        }
        pending.Restore(mark);
        if (savepoint)
        {
            await session.WriteTransaction.RollbackAsync(name);
        }
        // Without a savepoint the lone change's writes are undone by not committing.
        return false;
    }

    /// <summary>
    /// The audit pseudonym of every resident the batch names, creating one (128 random bits) for a
    /// resident who has none yet. Runs in the batch's transaction, under the frontier lock that every
    /// writer takes, so two nodes never create two pseudonyms for one resident.
    /// </summary>
    private async Task<Dictionary<Guid, string>> PseudonymsAsync(DbSession session, IReadOnlyCollection<Guid> residents, DateTimeOffset now)
    {
        var known = residents.Count == 0 ? [] : await AuditStore.PseudonymsAsync(session, residents);
        var created = new List<(Guid Resident, string Pseudonym)>();
        foreach (var resident in residents.Where(r => !known.ContainsKey(r)))
        {
            var pseudonym = "ap_" + Base64Url.Encode(RandomNumberGenerator.GetBytes(16));
            known[resident] = pseudonym;
            created.Add((resident, pseudonym));
        }
        if (created.Count > 0)
        {
            await AuditStore.InsertPseudonymsAsync(session, created, now);
        }
        return known;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
    }

    private sealed record PreparedEntry(AuditEntryDraft Draft, string? Payload);

    /// <summary>
    /// The entries of the batch being written, in order. Their leaves are computed only when the batch
    /// is built, once every resident the batch names has a pseudonym, so a change's entries can be
    /// dropped (a failed change) without touching the frontier.
    /// </summary>
    private sealed class PendingEntries(long firstSequence, DateTimeOffset now)
    {
        private readonly List<PreparedEntry> _drafts = [];
        private readonly List<Guid> _retired = [];

        public DateTimeOffset Now { get; } = now;

        public int Count => _drafts.Count;

        public IReadOnlyCollection<Guid> Retired => _retired;

        public int Add(PreparedEntry prepared)
        {
            _drafts.Add(prepared);
            return _drafts.Count - 1;
        }

        public AuditPosition Append(PreparedEntry prepared) => new(firstSequence + Add(prepared), Now);

        public void Retire(Guid residentId) => _retired.Add(residentId);

        public (int Drafts, int Retired) Mark() => (_drafts.Count, _retired.Count);

        public void Restore((int Drafts, int Retired) mark)
        {
            _drafts.RemoveRange(mark.Drafts, _drafts.Count - mark.Drafts);
            _retired.RemoveRange(mark.Retired, _retired.Count - mark.Retired);
        }

        public IReadOnlyCollection<Guid> ResidentsNamed()
        {
            var residents = new HashSet<Guid>();
            foreach (var (draft, _) in _drafts)
            {
                if (draft.SubjectRef is { } subject)
                {
                    residents.Add(Guid.Parse(subject));
                }
                if (ResidentActor(draft.Actor) is { } actor)
                {
                    residents.Add(actor);
                }
                residents.UnionWith(draft.Residents ?? []);
            }
            return residents;
        }

        /// <summary>The rows and the subtree nodes, with every resident named by pseudonym; moves <paramref name="frontier"/>.</summary>
        public (List<AuditRow> Entries, List<NodeRow> Nodes) Build(CompactRange frontier, IReadOnlyDictionary<Guid, string> pseudonyms)
        {
            var entries = new List<AuditRow>(_drafts.Count);
            var nodes = new List<NodeRow>();
            foreach (var (draft, payload) in _drafts)
            {
                var actor = ResidentActor(draft.Actor) is { } resident ? $"{ResidentActorPrefix}{pseudonyms[resident]}" : draft.Actor;
                var subject = draft.SubjectRef is { } id ? pseudonyms[Guid.Parse(id)] : null;
                var entry = new AuditEntry(frontier.Size, Now, draft.Kind, actor, subject, draft.Purpose,
                    draft.GrantId, draft.PolicyHash, WithResidents(payload, draft.Residents, pseudonyms), draft.SealedPersonalData);
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
            }
            return (entries, nodes);
        }

        private static string? WithResidents(string? payload, IReadOnlyList<Guid>? residents, IReadOnlyDictionary<Guid, string> pseudonyms)
        {
            if (residents is null)
            {
                return payload;
            }
            var node = payload is null ? new JsonObject() : (JsonObject)JsonNode.Parse(payload)!;
            node["residents"] = new JsonArray([.. residents.Select(r => (JsonNode)JsonValue.Create(pseudonyms[r]))]);
            return node.ToJsonString(PayloadJson);
        }
    }

    private const string ResidentActorPrefix = "resident:";

    private static Guid? ResidentActor(string actor) =>
        actor.StartsWith(ResidentActorPrefix, StringComparison.Ordinal) && Guid.TryParse(actor.AsSpan(ResidentActorPrefix.Length), out var id) ? id : null;

    private sealed class Scope(DbSession session, PendingEntries pending) : AuditScope
    {
        private bool _closed;

        public bool Abandoned { get; private set; }

        public override DbSession Db => _closed ? throw Closed() : session;

        public override DateTimeOffset Now => pending.Now;

        public override AuditPosition Append(AuditEntryDraft entry) =>
            _closed ? throw Closed() : pending.Append(Prepare(entry));

        public override void RetirePseudonym(Guid residentId)
        {
            if (_closed)
            {
                throw Closed();
            }
            pending.Retire(residentId);
        }

        public override void Abandon() => Abandoned = true;

        public void Close() => _closed = true;

        private static InvalidOperationException Closed() =>
            new("The audit scope was used after its change returned; keep every write inside the change.");
    }

    private abstract class Work
    {
        public abstract void Reset();

        public abstract void Complete();

        public abstract void Fail(Exception exception);
    }

    private sealed class EntryWork(PreparedEntry entry) : Work
    {
        public PreparedEntry Entry { get; } = entry;

        public int Index { get; set; } = -1;

        public AuditAppended? Appended { get; set; }

        public TaskCompletionSource<AuditAppended> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Reset()
        {
            Index = -1;
            Appended = null;
        }

        public override void Complete() => Completion.TrySetResult(Appended!);

        public override void Fail(Exception exception) => Completion.TrySetException(exception);
    }

    private sealed class ChangeWork(Func<AuditScope, CancellationToken, Task<object?>> change) : Work
    {
        public Func<AuditScope, CancellationToken, Task<object?>> Change { get; } = change;

        public object? Result { get; set; }

        public Exception? Error { get; set; }

        public TaskCompletionSource<object?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Reset()
        {
            Result = null;
            Error = null;
        }

        public override void Complete()
        {
            if (Error is not null)
            {
                Completion.TrySetException(Error);
            }
            else
            {
                Completion.TrySetResult(Result);
            }
        }

        public override void Fail(Exception exception) => Completion.TrySetException(exception);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit batch of {Count} items failed; callers were told and nothing of it was kept")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit batch write failed on attempt {Attempt}; retrying")]
    private static partial void LogBatchRetry(ILogger logger, Exception exception, int attempt);
}

/// <summary>
/// The audit log could not commit (storage full or read-only, the database unreachable): nothing
/// the request asked for was changed or recorded. The inner exception says what the storage said.
/// </summary>
public sealed class AuditUnavailableException(Exception inner)
    : Exception("The audit log could not record the change, so nothing was changed.", inner);
