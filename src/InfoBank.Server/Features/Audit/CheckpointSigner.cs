using System.Security.Cryptography;
using InfoBank.Core.Audit;
using InfoBank.Server.Infrastructure.Crypto;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// Signs audit checkpoints. The key lives outside the database (the shared signing key store,
/// purpose <c>checkpoint</c>) so that whoever can write the database still cannot produce a
/// checkpoint an auditor would accept — and, because the signer would otherwise sign whatever the
/// database holds, it also keeps its own record of the last checkpoint it signed beside that key
/// (<see cref="SignerStateFile"/>) and signs only a tree that extends it, computed from the rows'
/// content. The note key name is the log's origin.
/// </summary>
public interface ICheckpointSigner
{
    /// <summary>The current key, as auditors pin it.</summary>
    Task<NoteVerifier> CurrentAsync(CancellationToken cancellationToken = default);

    /// <summary>Every checkpoint key, current and retired, so checkpoints signed before a rotation still verify.</summary>
    Task<IReadOnlyList<NoteVerifier>> PublishedKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Signs a checkpoint of the log as the database holds it now, if it grew and the grown tree
    /// extends the last checkpoint this signer signed; refuses, halts and alerts otherwise.
    /// </summary>
    Task<CheckpointOutcome> SignAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// For an operator, after repairing the database: checks a halted signer's saved state against
    /// the log again and, only if the log extends the last signed checkpoint once more, clears the
    /// halt and signs. The database is never trusted more for it.
    /// </summary>
    Task<CheckpointOutcome> ResumeAsync(CancellationToken cancellationToken = default);

    /// <summary>The signer's saved state: what it last signed and whether it is halted, and why.</summary>
    Task<SignerStatus> StatusAsync(CancellationToken cancellationToken = default);
}

public enum CheckpointOutcomeKind
{
    /// <summary>A new checkpoint was signed and stored.</summary>
    Signed,

    /// <summary>Nothing new to sign; <see cref="CheckpointOutcome.Checkpoint"/> may name the checkpoint that covers the log.</summary>
    UpToDate,

    /// <summary>The signer is halted; <see cref="CheckpointOutcome.Halt"/> says why.</summary>
    Refused,

    /// <summary>Another signer held the lock for too long; try again later.</summary>
    Busy,
}

public sealed record CheckpointOutcome(CheckpointOutcomeKind Kind, CheckpointRow? Checkpoint = null, SignerHalt? Halt = null);

/// <summary>What the signer last signed and whether it signs at all; what auditors see at GET /api/v1/audit/signer.</summary>
public sealed record SignerStatus(
    string Origin,
    bool Initialized,
    long? SignedSize,
    byte[]? SignedRoot,
    DateTimeOffset? SignedAt,
    string? Checkpoint,
    SignerBootstrap? Bootstrap,
    bool Halted,
    SignerHalt? Halt);

/// <summary>
/// The one place checkpoints are signed (the recurring job and <c>infobank audit checkpoint</c>
/// both come here). Under an exclusive file lock it reads its own state, reads the entries added
/// since the size it last signed, recomputes each leaf from the row's content (it never uses
/// <c>leaf_hash</c>, <c>audit_tree_nodes</c> or <c>audit_frontier</c> to compute anything),
/// extends its saved frontier with them, and compares what the database claims — stored leaf
/// hashes, new subtrees, the frontier's root, stored checkpoints above the signed size, the signed
/// checkpoint row, the last signed entry and the signed frontier's subtrees — with what it
/// computed. Any disagreement, a log shorter than the signed size, or a signed checkpoint beyond the
/// log's end halts it: the halt is written to the state file (so every node, restarts and the CLI
/// keep refusing until an operator acts), logged at Critical, reported by readiness and by the
/// auditor API. Cost per run: a handful of queries plus the new entries, whatever the log's size.
/// </summary>
public sealed partial class CheckpointSigner(
    SigningKeyStore keys,
    AuditStore store,
    SignerStateFile stateFile,
    TimeProvider time,
    IOptions<AuditOptions> options,
    ILogger<CheckpointSigner> logger) : ICheckpointSigner
{
    /// <summary>How long a run waits for another signer (a bootstrap of a large log holds the lock for a while).</summary>
    internal static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan RealertInterval = TimeSpan.FromHours(1);
    private const int EntryPage = 2_000;
    private const int CheckpointPage = 1_000;
    private const int MaxFindings = 10;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private DateTimeOffset? _lastAlert;

    private string Origin => options.Value.Origin;

    public async Task<NoteVerifier> CurrentAsync(CancellationToken cancellationToken = default) =>
        NoteVerifier.For(Origin, (await keys.GetCurrentAsync(SigningKeyPurposes.Checkpoint, cancellationToken)).Key.PublicKey);

    public async Task<IReadOnlyList<NoteVerifier>> PublishedKeysAsync(CancellationToken cancellationToken = default)
    {
        var current = await CurrentAsync(cancellationToken);
        var all = (await keys.ListAsync(cancellationToken))
            .Where(k => k.Purpose == SigningKeyPurposes.Checkpoint)
            .Select(k => NoteVerifier.For(Origin, k.Key.PublicKey))
            .Where(k => k.KeyId != current.KeyId);
        return [current, .. all];
    }

    public Task<CheckpointOutcome> SignAsync(CancellationToken cancellationToken = default) => RunAsync(resume: false, cancellationToken);

    public Task<CheckpointOutcome> ResumeAsync(CancellationToken cancellationToken = default) => RunAsync(resume: true, cancellationToken);

    public Task<SignerStatus> StatusAsync(CancellationToken cancellationToken = default)
    {
        SignerState? state;
        try
        {
            state = ReadState();
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return Task.FromResult(new SignerStatus(Origin, false, null, null, null, null, null, true, Unreadable(ex)));
        }
        if (state is null)
        {
            return Task.FromResult(new SignerStatus(Origin, false, null, null, null, null, null, false, null));
        }
        return Task.FromResult(new SignerStatus(Origin, state.Bootstrap is not null, state.Size, state.Root, state.SignedAt,
            state.Note, state.Bootstrap, state.Halt is not null, state.Halt));
    }

    private async Task<CheckpointOutcome> RunAsync(bool resume, CancellationToken cancellationToken)
    {
        // The semaphore keeps this process's callers from spinning on the file lock; the file lock is what serialises signers.
        if (!await _gate.WaitAsync(LockTimeout, cancellationToken))
        {
            LogBusy(logger, LockTimeout.TotalSeconds);
            return new CheckpointOutcome(CheckpointOutcomeKind.Busy);
        }
        try
        {
            using var held = await stateFile.LockAsync(LockTimeout, cancellationToken);
            if (held is null)
            {
                LogBusy(logger, LockTimeout.TotalSeconds);
                return new CheckpointOutcome(CheckpointOutcomeKind.Busy);
            }
            SignerState? state;
            try
            {
                state = ReadState();
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                // Never bootstrap over a state that exists but cannot be used: that would re-trust the database.
                var unreadable = Unreadable(ex);
                if (ShouldRealert())
                {
                    LogStateUnreadable(logger, unreadable.Reason);
                }
                return new CheckpointOutcome(CheckpointOutcomeKind.Refused, Halt: unreadable);
            }
            if (state?.Halt is { } halt && !resume)
            {
                if (ShouldRealert())
                {
                    LogStillHalted(logger, halt.At, halt.Code, halt.Sequence, halt.Reason);
                }
                else
                {
                    LogRefusedQuietly(logger, halt.Code);
                }
                return new CheckpointOutcome(CheckpointOutcomeKind.Refused, Halt: halt);
            }
            var published = await PublishedKeysAsync(cancellationToken);
            var check = await CheckAsync(state, published, cancellationToken);
            if (check.Findings.Count > 0)
            {
                return Halt(state, check.Findings);
            }
            return await AdvanceAsync(state, check, published, resume, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private SignerState? ReadState()
    {
        var state = stateFile.Read();
        if (state is not null && state.Origin != Origin)
        {
            throw new InvalidDataException($"the signer state file is for the log '{state.Origin}', not the configured Audit:Origin '{Origin}'");
        }
        return state;
    }

    private async Task<CheckpointOutcome> AdvanceAsync(
        SignerState? state, CheckResult check, IReadOnlyList<NoteVerifier> published, bool resume, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var extension = check.Extension;
        var size = extension.Size;
        var signedSize = state?.Size ?? 0;
        var bootstrapping = state?.Bootstrap is null;
        var bootstrap = state?.Bootstrap ?? new SignerBootstrap(now, size, check.CheckedAgainst);
        var wasHalted = state?.Halt is not null;

        CheckpointOutcome outcome;
        if (size == signedSize)
        {
            if (!bootstrapping && !wasHalted)
            {
                return new CheckpointOutcome(CheckpointOutcomeKind.UpToDate);
            }
            // A first start on an empty log, or an operator's resume with nothing new: record it.
            stateFile.Write((state ?? SignerState.Empty(Origin)) with { Bootstrap = bootstrap, Halt = null });
            outcome = new CheckpointOutcome(CheckpointOutcomeKind.UpToDate);
        }
        else if (check.AtSize is { } covering)
        {
            // Already signed by this log's key and just checked against the recomputed tree: a run of
            // ours that stored it and stopped before saving the state, or the checkpoint a bootstrap found.
            stateFile.Write(NextState(state, extension, bootstrap, covering.Note, covering.CreatedAt));
            outcome = new CheckpointOutcome(CheckpointOutcomeKind.UpToDate, covering);
        }
        else
        {
            outcome = await SignAsync(state, extension, bootstrap, published, now, cancellationToken);
            if (outcome.Kind == CheckpointOutcomeKind.Refused)
            {
                // Halted (and logged as such) instead of advancing.
                return outcome;
            }
        }
        LogAdvanced(check, bootstrapping, wasHalted && resume, signedSize, size);
        return outcome;
    }

    // The state after signing (or adopting) the checkpoint at the extension's size.
    private SignerState NextState(SignerState? state, TreeExtension extension, SignerBootstrap bootstrap, string note, DateTimeOffset signedAt) => new()
    {
        Origin = Origin,
        Size = extension.Size,
        Root = extension.Root(),
        Frontier = [.. extension.Frontier.Hashes],
        LastLeaf = extension.LastLeaf ?? state?.LastLeaf,
        LastTime = extension.LastTime,
        Note = note,
        SignedAt = signedAt,
        Bootstrap = bootstrap,
    };

    // Signs and stores a checkpoint at the extension's size, or adopts the same one stored meanwhile.
    private async Task<CheckpointOutcome> SignAsync(
        SignerState? state, TreeExtension extension, SignerBootstrap bootstrap, IReadOnlyList<NoteVerifier> published, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var size = extension.Size;
        var key = await keys.GetCurrentAsync(SigningKeyPurposes.Checkpoint, cancellationToken);
        var checkpoint = new Checkpoint(Origin, size, extension.Root());
        var row = new CheckpointRow
        {
            TreeSize = size,
            RootHash = checkpoint.Root,
            CreatedAt = now,
            KeyName = Origin,
            Note = checkpoint.Sign(Origin, key.Key).ToString(),
        };
        // Stored before the state is saved: a crash in between leaves a row above the saved size
        // that the next run checks and adopts, never a saved state whose checkpoint nobody can see.
        if (!await store.AddCheckpointAsync(row, cancellationToken))
        {
            var stored = await store.CheckpointAsync(size, cancellationToken);
            if (stored is null || Verified(stored, published) is null || !Same(stored.RootHash, checkpoint.Root))
            {
                return Halt(state, [new SignerFinding(SignerFindingCodes.CheckpointMismatch, size,
                    $"while this signer held its lock another checkpoint for size {size} was stored, and it is not the tree this signer computed ({B64(checkpoint.Root)})")]);
            }
            stateFile.Write(NextState(state, extension, bootstrap, stored.Note, stored.CreatedAt));
            return new CheckpointOutcome(CheckpointOutcomeKind.UpToDate, stored);
        }
        stateFile.Write(NextState(state, extension, bootstrap, row.Note, now));
        LogSigned(logger, size);
        return new CheckpointOutcome(CheckpointOutcomeKind.Signed, row);
    }

    private void LogAdvanced(CheckResult check, bool bootstrapping, bool resumed, long signedSize, long size)
    {
        if (bootstrapping)
        {
            if (check.CheckedAgainst is { } against)
            {
                LogBootstrapped(logger, size, against);
            }
            else
            {
                LogBootstrappedUnanchored(logger, size);
            }
        }
        if (resumed)
        {
            LogResumed(logger, signedSize, size);
        }
    }

    private CheckpointOutcome Halt(SignerState? state, IReadOnlyList<SignerFinding> findings)
    {
        var first = findings[0];
        var listed = findings.Take(MaxFindings).Select(f => f.Detail).ToList();
        var halt = new SignerHalt(time.GetUtcNow(), first.Code, first.Sequence, string.Join("; ", listed), listed);
        stateFile.Write((state ?? SignerState.Empty(Origin)) with { Halt = halt });
        _lastAlert = halt.At;
        LogHalted(logger, state?.Size ?? 0, halt.Code, halt.Sequence, halt.Reason);
        return new CheckpointOutcome(CheckpointOutcomeKind.Refused, Halt: halt);
    }

    private bool ShouldRealert()
    {
        var now = time.GetUtcNow();
        if (_lastAlert is { } last && now - last < RealertInterval)
        {
            return false;
        }
        _lastAlert = now;
        return true;
    }

    private SignerHalt Unreadable(Exception ex) =>
        new(time.GetUtcNow(), SignerFindingCodes.StateUnreadable, null, ex.Message, [ex.Message]);

    private sealed record CheckResult(TreeExtension Extension, List<SignerFinding> Findings, CheckpointRow? AtSize, long? CheckedAgainst);

    private async Task<CheckResult> CheckAsync(SignerState? state, IReadOnlyList<NoteVerifier> published, CancellationToken cancellationToken)
    {
        var findings = new List<SignerFinding>();
        var signedSize = state?.Size ?? 0;
        var extension = new TreeExtension(state?.FrontierRange() ?? new CompactRange(), state?.LastTime);
        CheckResult Result(CheckpointRow? atSize = null, long? checkedAgainst = null) => new(extension, findings, atSize, checkedAgainst);

        CompactRange claimed;
        try
        {
            claimed = await store.CurrentFrontierAsync(cancellationToken);
        }
        catch (InvalidDataException ex)
        {
            findings.Add(new SignerFinding(SignerFindingCodes.FrontierMismatch, null, $"the database's frontier row is malformed: {ex.Message}"));
            return Result();
        }
        var size = claimed.Size;
        if (size < signedSize)
        {
            findings.Add(new SignerFinding(SignerFindingCodes.Truncated, size,
                $"the database's tree holds {size} entries but this signer signed a checkpoint at size {signedSize}: entries {size}…{signedSize - 1} were removed, or entries below {signedSize} were deleted and the rest renumbered"));
        }
        else if (await store.LatestCheckpointAsync(cancellationToken) is { } latest && latest.TreeSize > size)
        {
            findings.Add(Verified(latest, published) is not null
                ? new SignerFinding(SignerFindingCodes.Truncated, size,
                    $"a checkpoint signed at size {latest.TreeSize} lies beyond the log's end: the database's tree holds {size} entries")
                : Unsigned(latest));
        }
        if (state is not null && signedSize > 0)
        {
            await CheckSignedHistoryAsync(state, size, findings, cancellationToken);
        }
        if (findings.Count > 0)
        {
            return Result();
        }

        // Stored checkpoints above the signed size must be signed by this log's key and match the
        // recomputed tree. At bootstrap that is every stored checkpoint: the latest that verifies
        // anchors it, newer ones that do not verify are refused (an export would carry them), and
        // older ones are compared by root only, so a bootstrap does not verify years of signatures.
        var verifyAbove = signedSize;
        long? checkedAgainst = null;
        if (state?.Bootstrap is null)
        {
            (checkedAgainst, var unsigned) = await LatestVerifiedAsync(size, published, cancellationToken);
            if (unsigned.Count > 0)
            {
                findings.AddRange(unsigned);
                return Result();
            }
            verifyAbove = checkedAgainst ?? 0;
        }

        var atSize = await ExtendFromEntriesAsync(extension, size, verifyAbove, published, findings, cancellationToken);
        if (findings.Count == 0 && !Same(claimed.Root(), extension.Root()))
        {
            findings.Add(new SignerFinding(SignerFindingCodes.FrontierMismatch, size, signedSize == 0
                ? $"the database's tree head at size {size} is {B64(claimed.Root())}, but the {size} entries recomputed from their rows give {B64(extension.Root())}"
                : $"the database's tree head at size {size} is {B64(claimed.Root())}, but the checkpoint signed at size {signedSize} extended with entries {signedSize}…{size - 1} recomputed from their rows gives {B64(extension.Root())}"));
        }
        return Result(atSize, checkedAgainst);
    }

    /// <summary>
    /// Extends the signed tree with the entries up to <paramref name="size"/>, read from their rows,
    /// checking each leaf, the stored nodes and every stored checkpoint on the way (signatures only
    /// above <paramref name="verifyAbove"/>). Stops at the first finding. Returns the stored
    /// checkpoint at <paramref name="size"/> when there is one and it agrees.
    /// </summary>
    private async Task<CheckpointRow?> ExtendFromEntriesAsync(
        TreeExtension extension, long size, long verifyAbove, IReadOnlyList<NoteVerifier> published, List<SignerFinding> findings, CancellationToken cancellationToken)
    {
        // Called before anything is appended: the extension still ends at the signed size.
        var signedSize = extension.Size;
        CheckpointRow? atSize = null;
        var pending = new Queue<CheckpointRow>();
        var nextCheckpoint = signedSize + 1;
        async Task RefillAsync()
        {
            if (pending.Count > 0 || nextCheckpoint > size)
            {
                return;
            }
            var rows = await store.CheckpointsAsync(nextCheckpoint, size, CheckpointPage, cancellationToken);
            foreach (var row in rows)
            {
                pending.Enqueue(row);
            }
            nextCheckpoint = rows.Count == CheckpointPage ? rows[^1].TreeSize + 1 : size + 1;
        }

        await RefillAsync();
        for (var from = signedSize; from < size && findings.Count == 0;)
        {
            var rows = await store.EntriesAsync(from, size, EntryPage, cancellationToken: cancellationToken);
            if (rows.Count == 0)
            {
                findings.Add(new SignerFinding(SignerFindingCodes.SequenceGap, from,
                    $"entries {from}…{size - 1} are missing, though the database's tree claims {size} entries"));
                break;
            }
            var nodes = new List<(int Level, long Index, byte[] Hash)>();
            foreach (var row in rows)
            {
                if (extension.Append(row.ToEntry(), row.LeafHash, (level, index, hash) => nodes.Add((level, index, hash))) is { } finding)
                {
                    findings.Add(finding);
                    break;
                }
                while (pending.TryPeek(out var checkpoint) && checkpoint.TreeSize == extension.Size)
                {
                    pending.Dequeue();
                    if (CheckStored(checkpoint, extension.Root(), checkpoint.TreeSize > verifyAbove, published) is { } bad)
                    {
                        findings.Add(bad);
                    }
                    else if (checkpoint.TreeSize == size)
                    {
                        atSize = checkpoint;
                    }
                    await RefillAsync();
                }
                if (findings.Count > 0)
                {
                    break;
                }
            }
            if (findings.Count == 0)
            {
                await CheckNodesAsync(nodes, findings, cancellationToken);
            }
            from = extension.Size;
        }
        return atSize;
    }

    /// <summary>
    /// What the signer can see below its signed size without reading it all: the signed checkpoint row,
    /// the last signed entry, and the stored subtrees that tile the signed tree, each of which must still
    /// be the hash the signer kept. A rewrite below the signed size shows in one of them and the subtree
    /// names the range of sequences it touched.
    /// </summary>
    private async Task CheckSignedHistoryAsync(SignerState state, long claimedSize, List<SignerFinding> findings, CancellationToken cancellationToken)
    {
        var signedSize = state.Size;
        var subtrees = TreeExtension.FrontierSubtrees(signedSize);
        var stored = await store.NodesInRangesAsync(
            subtrees.Where(s => s.Level > 0 && s.End <= claimedSize).Select(s => (s.Level, s.Index, s.Index)).ToList(), cancellationToken);
        var last = signedSize - 1 < claimedSize ? await store.EntryAsync(signedSize - 1, cancellationToken) : null;
        for (var i = 0; i < subtrees.Count; i++)
        {
            var subtree = subtrees[i];
            if (subtree.End > claimedSize)
            {
                continue;
            }
            if (subtree.Level == 0 && last is null)
            {
                // The missing entry itself is reported below.
                continue;
            }
            var hash = subtree.Level == 0 ? last!.LeafHash : stored.GetValueOrDefault((subtree.Level, subtree.Index));
            if (hash is null)
            {
                findings.Add(new SignerFinding(SignerFindingCodes.HistoryChanged, subtree.Start,
                    $"the stored subtree over {Entries(subtree.Start, subtree.End)} is missing; this signer signed it as {B64(state.Frontier[i])} at size {signedSize}"));
            }
            else if (!Same(hash, state.Frontier[i]))
            {
                findings.Add(new SignerFinding(SignerFindingCodes.HistoryChanged, subtree.Start,
                    $"the stored subtree over {Entries(subtree.Start, subtree.End)} is {B64(hash)}, not the {B64(state.Frontier[i])} this signer signed at size {signedSize}: an entry in that range was changed, removed or inserted"));
            }
        }
        if (signedSize - 1 < claimedSize)
        {
            if (last is null)
            {
                findings.Add(new SignerFinding(SignerFindingCodes.SequenceGap, signedSize - 1,
                    $"entry {signedSize - 1}, the last one under the checkpoint signed at size {signedSize}, is missing"));
            }
            else if (state.LastLeaf is { } signedLeaf && last.ToEntry().LeafHash() is var leaf && !Same(leaf, signedLeaf))
            {
                findings.Add(new SignerFinding(SignerFindingCodes.LastEntryChanged, signedSize - 1,
                    $"entry {signedSize - 1} ({last.Kind}) is not the entry signed as the last of size {signedSize}: its content hashes to {B64(leaf)}, the signed leaf was {B64(signedLeaf)}"));
            }
        }
        var own = await store.CheckpointAsync(signedSize, cancellationToken);
        if (own is null)
        {
            findings.Add(new SignerFinding(SignerFindingCodes.CheckpointMissing, signedSize,
                $"the checkpoint this signer signed at size {signedSize} (root {B64(state.Root)}) is gone from audit_checkpoints"));
        }
        else if (own.Note != state.Note)
        {
            findings.Add(new SignerFinding(SignerFindingCodes.CheckpointMismatch, signedSize,
                $"the checkpoint stored for size {signedSize} (root {B64(own.RootHash)}) is not the one this signer signed (root {B64(state.Root)})"));
        }
    }

    /// <summary>New interior subtrees must be stored exactly as computed: inclusion proofs are served from them.</summary>
    private async Task CheckNodesAsync(List<(int Level, long Index, byte[] Hash)> nodes, List<SignerFinding> findings, CancellationToken cancellationToken)
    {
        if (nodes.Count == 0)
        {
            return;
        }
        var ranges = nodes.GroupBy(n => n.Level).Select(g => (g.Key, g.Min(n => n.Index), g.Max(n => n.Index))).ToList();
        var stored = await store.NodesInRangesAsync(ranges, cancellationToken);
        foreach (var (level, index, hash) in nodes)
        {
            var start = index << level;
            var end = start + (1L << level);
            if (!stored.TryGetValue((level, index), out var storedHash))
            {
                findings.Add(new SignerFinding(SignerFindingCodes.NodeMismatch, start,
                    $"the stored subtree over {Entries(start, end)} (level {level}, index {index}) is missing"));
                return;
            }
            if (!Same(storedHash, hash))
            {
                findings.Add(new SignerFinding(SignerFindingCodes.NodeMismatch, start,
                    $"the stored subtree over {Entries(start, end)} (level {level}, index {index}) is {B64(storedHash)}, not the hash of those entries, {B64(hash)}"));
                return;
            }
        }
    }

    /// <summary>The size of the newest stored checkpoint at or below <paramref name="size"/> that verifies, and the newer ones that do not.</summary>
    private async Task<(long? Size, List<SignerFinding> Unsigned)> LatestVerifiedAsync(
        long size, IReadOnlyList<NoteVerifier> published, CancellationToken cancellationToken)
    {
        var unsigned = new List<SignerFinding>();
        for (var below = size; below > 0;)
        {
            var rows = await store.CheckpointsDescendingAsync(below, CheckpointPage, cancellationToken);
            foreach (var row in rows)
            {
                if (Verified(row, published) is not null)
                {
                    return (row.TreeSize, unsigned);
                }
                unsigned.Add(Unsigned(row));
                if (unsigned.Count >= MaxFindings)
                {
                    return (null, unsigned);
                }
            }
            if (rows.Count < CheckpointPage)
            {
                break;
            }
            below = rows[^1].TreeSize - 1;
        }
        return (null, unsigned);
    }

    private SignerFinding? CheckStored(CheckpointRow row, byte[] root, bool verify, IReadOnlyList<NoteVerifier> published)
    {
        if (verify && Verified(row, published) is null)
        {
            return Unsigned(row);
        }
        return Same(row.RootHash, root)
            ? null
            : new SignerFinding(SignerFindingCodes.CheckpointMismatch, row.TreeSize,
                $"the checkpoint stored for size {row.TreeSize} has root {B64(row.RootHash)}, but the entries recomputed from their rows give {B64(root)}");
    }

    /// <summary>The checkpoint a row's note states, if it is signed for this log by a current or retired key and agrees with the row.</summary>
    private Checkpoint? Verified(CheckpointRow row, IReadOnlyList<NoteVerifier> published)
    {
        var note = SignedNote.TryParse(row.Note, out _);
        if (note is null || note.VerifiedBy(published).Count == 0)
        {
            return null;
        }
        var checkpoint = Checkpoint.TryParse(note.Text, out _);
        return checkpoint is not null && checkpoint.Origin == Origin && checkpoint.Size == row.TreeSize && Same(checkpoint.Root, row.RootHash)
            ? checkpoint
            : null;
    }

    private SignerFinding Unsigned(CheckpointRow row) => new(SignerFindingCodes.CheckpointUnsigned, row.TreeSize,
        $"the checkpoint stored for size {row.TreeSize} carries no valid signature for {Origin} from a current or retired checkpoint key");

    private static bool Same(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.Length == b.Length && CryptographicOperations.FixedTimeEquals(a, b);

    private static string B64(byte[] hash) => Convert.ToBase64String(hash);

    private static string Entries(long start, long end) => end - start == 1 ? $"entry {start}" : $"entries {start}…{end - 1}";

    [LoggerMessage(Level = LogLevel.Debug, Message = "Audit checkpoint signed at tree size {Size}")]
    private static partial void LogSigned(ILogger logger, long size);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Audit checkpoint signer halted: the log in the database no longer extends the checkpoint it signed at size {SignedSize}, and it signs nothing until an operator acts (infobank audit checkpoint status). {Code} at sequence {Sequence}: {Reason}")]
    private static partial void LogHalted(ILogger logger, long signedSize, string code, long? sequence, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Audit checkpoint signer is halted since {HaltedAt} and refuses to sign (infobank audit checkpoint status). {Code} at sequence {Sequence}: {Reason}")]
    private static partial void LogStillHalted(ILogger logger, DateTimeOffset haltedAt, string code, long? sequence, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Audit checkpoint signer is halted ({Code}); refused to sign")]
    private static partial void LogRefusedQuietly(ILogger logger, string code);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Audit checkpoint signer cannot use its state file and refuses to sign: {Reason}")]
    private static partial void LogStateUnreadable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit checkpoint signer had no state file and bootstrapped from the database: all {Size} leaves recomputed from their rows agree with the stored checkpoint at size {CheckedAgainst}; from now on it signs only trees that extend this one")]
    private static partial void LogBootstrapped(ILogger logger, long size, long checkedAgainst);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit checkpoint signer had no state file and bootstrapped from the database: all {Size} leaves recomputed from their rows; no stored checkpoint verified to check them against; from now on it signs only trees that extend this one")]
    private static partial void LogBootstrappedUnanchored(ILogger logger, long size);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit checkpoint signer resumed by an operator: the log again extends the checkpoint signed at size {SignedSize} and is now signed at size {Size}")]
    private static partial void LogResumed(ILogger logger, long signedSize, long size);

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit checkpoint signer skipped a run: another signer held the lock for {Seconds} s")]
    private static partial void LogBusy(ILogger logger, double seconds);
}
