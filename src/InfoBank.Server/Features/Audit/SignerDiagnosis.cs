using System.Security.Cryptography;
using InfoBank.Core.Audit;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// What <c>infobank audit checkpoint status --check</c> prints for an operator facing a halted
/// signer: the whole log recomputed from its rows and compared with the signer's own state and with
/// every stored checkpoint that verifies, narrowed to the range of sequences where the log first
/// differs from what was signed.
/// </summary>
public sealed record SignerDiagnosisReport(
    long ClaimedSize,
    long RowsRead,
    bool FrontierAgrees,
    IReadOnlyList<string> RowFindings,
    long? SignedSize,
    IReadOnlyList<string> SignedSubtrees,
    int CheckpointsAgreeing,
    IReadOnlyList<string> CheckpointFindings,
    long? FirstChangeFrom,
    long? FirstChangeTo)
{
    /// <summary>True when the rows, the database's own claims, the signer's state and every stored checkpoint agree.</summary>
    public bool Consistent { get; init; }
}

/// <summary>
/// Read-only: reads every row (so it costs a full scan, unlike the signer), changes nothing, and
/// trusts nothing but the signer's state and the checkpoint keys. It is the tool to find what was
/// changed, never a way to make the signer accept it.
/// </summary>
public sealed class SignerDiagnosis(AuditStore store, ICheckpointSigner signer, SignerStateFile stateFile, IOptions<AuditOptions> options)
{
    private const int Page = 5_000;
    private const int MaxListed = 20;

    public async Task<SignerDiagnosisReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var origin = options.Value.Origin;
        var state = ReadSignerState(origin);
        var published = await signer.PublishedKeysAsync(cancellationToken);
        var claimed = await store.CurrentFrontierAsync(cancellationToken);
        var walk = new Walk(store, origin, published, state, claimed, cancellationToken);
        await walk.ReadRowsAsync();
        await walk.JudgeCheckpointsBeyondRowsAsync();
        return walk.Report();
    }

    // The signer's state for this origin, or null when it cannot be read or belongs to another log.
    private SignerState? ReadSignerState(string origin)
    {
        SignerState? state;
        try
        {
            state = stateFile.Read();
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            // The status already says why; the rows and checkpoints can still be checked against each other.
            state = null;
        }
        return state is not null && state.Origin != origin ? null : state;
    }

    /// <summary>
    /// One pass over the rows in sequence order, recomputing the tree as it goes and judging the
    /// signer's state and each stored checkpoint at the size where the recomputed tree reaches it.
    /// Narrows the first change to between the largest size that still agrees and the smallest that does not.
    /// </summary>
    private sealed class Walk(
        AuditStore store, string origin, IReadOnlyList<NoteVerifier> published, SignerState? state, CompactRange claimed, CancellationToken cancellationToken)
    {
        private readonly List<string> _rowFindings = [];
        private readonly List<string> _checkpointFindings = [];
        private readonly IReadOnlyList<FrontierSubtree> _signedSubtrees = state is null ? [] : TreeExtension.FrontierSubtrees(state.Size);
        private readonly Dictionary<(int, long), byte[]> _recomputedSubtrees = [];
        private readonly CompactRange _range = new();
        private readonly Queue<CheckpointRow> _checkpoints = new();
        private HashSet<(int, long)>? _wanted;
        private byte[]? _rootAtClaimed = claimed.Size == 0 ? Merkle.EmptyRoot : null;
        private long _rows;
        private int _leafMismatches;
        private int _checkpointsAgreeing;
        private long? _firstBad;
        private long _lastGood;
        private DateTimeOffset? _lastTime;
        private long _nextCheckpoint = 1;
        private bool _moreCheckpoints = true;

        private HashSet<(int, long)> Wanted => _wanted ??= _signedSubtrees.Select(s => (s.Level, s.Index)).ToHashSet();

        public async Task ReadRowsAsync()
        {
            await RefillAsync();
            for (long from = 0; ;)
            {
                var page = await store.EntriesAsync(from, long.MaxValue, Page, cancellationToken: cancellationToken);
                if (page.Count == 0)
                {
                    break;
                }
                foreach (var row in page)
                {
                    CheckRow(row);
                    if (state is not null && _rows == state.Size)
                    {
                        Note(_rows, CryptographicOperations.FixedTimeEquals(_range.Root(), state.Root));
                    }
                    while (_checkpoints.TryPeek(out var checkpoint) && checkpoint.TreeSize <= _rows)
                    {
                        _checkpoints.Dequeue();
                        if (checkpoint.TreeSize == _rows)
                        {
                            Judge(checkpoint, _range.Root());
                        }
                        await RefillAsync();
                    }
                }
                from = page[^1].Sequence + 1;
            }
            if (_rows != claimed.Size)
            {
                Add(_rowFindings, $"the log holds {_rows} rows but its frontier claims {claimed.Size} entries");
            }
        }

        // Checkpoints (and a signer state) larger than the log: whatever they signed is no longer all there.
        public async Task JudgeCheckpointsBeyondRowsAsync()
        {
            while (_checkpoints.Count > 0 || _moreCheckpoints)
            {
                await RefillAsync();
                if (_checkpoints.TryDequeue(out var beyond))
                {
                    Add(_checkpointFindings, $"checkpoint at size {beyond.TreeSize} lies beyond the {_rows} rows the log holds");
                    Note(beyond.TreeSize, good: false);
                }
            }
            if (state is not null && _rows < state.Size)
            {
                Note(state.Size, good: false);
            }
        }

        public SignerDiagnosisReport Report()
        {
            var (subtreeLines, changeFrom, changeTo) = CompareSignedSubtrees();
            if (_firstBad is { } firstBadSize)
            {
                changeFrom = Math.Max(changeFrom ?? 0, _lastGood);
                changeTo = Math.Min(changeTo ?? firstBadSize, firstBadSize);
            }
            var frontierAgrees = _rootAtClaimed is not null && CryptographicOperations.FixedTimeEquals(_rootAtClaimed, claimed.Root());
            if (!frontierAgrees)
            {
                Add(_rowFindings, $"the database's tree head at size {claimed.Size} is not the root of its rows");
            }
            return new SignerDiagnosisReport(claimed.Size, _rows, frontierAgrees, _rowFindings, state?.Size, subtreeLines,
                _checkpointsAgreeing, _checkpointFindings, changeFrom, changeTo)
            {
                Consistent = _rowFindings.Count == 0 && _checkpointFindings.Count == 0 && changeFrom is null && _leafMismatches == 0,
            };
        }

        // The row as leaf number _rows: its sequence, its leaf hash and its time, then into the recomputed tree.
        private void CheckRow(AuditRow row)
        {
            // The rows are taken in order as leaves 0, 1, 2…: a gap or a renumbering both show
            // as a tree that differs from the signed one from that point on.
            if (row.Sequence != _rows)
            {
                Add(_rowFindings, $"row {_rows} of the log holds sequence {row.Sequence}: {(row.Sequence > _rows ? $"entries {_rows}…{row.Sequence - 1} are missing" : "a sequence appears twice")}");
            }
            var leaf = row.ToEntry().LeafHash();
            if (!CryptographicOperations.FixedTimeEquals(leaf, row.LeafHash))
            {
                _leafMismatches++;
                Add(_rowFindings, $"entry {row.Sequence} ({row.Kind}): stored leaf hash {Convert.ToBase64String(row.LeafHash)} is not the hash of its content");
            }
            if (_lastTime is { } last && row.Time < last)
            {
                Add(_rowFindings, $"entry {row.Sequence} ({row.Kind}) is dated before its predecessor");
            }
            _lastTime = row.Time;
            if (Wanted.Contains((0, _rows)))
            {
                _recomputedSubtrees[(0, _rows)] = leaf;
            }
            _range.Append(leaf, (level, index, hash) =>
            {
                if (Wanted.Contains((level, index)))
                {
                    _recomputedSubtrees[(level, index)] = hash;
                }
            });
            _rows++;
            if (_rows == claimed.Size)
            {
                _rootAtClaimed = _range.Root();
            }
        }

        // Each subtree the signer's state holds, recomputed from the rows: the first that differs bounds the change.
        private (List<string> Lines, long? ChangeFrom, long? ChangeTo) CompareSignedSubtrees()
        {
            var lines = new List<string>();
            long? changeFrom = null;
            long? changeTo = null;
            for (var i = 0; i < _signedSubtrees.Count; i++)
            {
                var subtree = _signedSubtrees[i];
                var recomputed = _recomputedSubtrees.GetValueOrDefault((subtree.Level, subtree.Index));
                var agrees = recomputed is not null && CryptographicOperations.FixedTimeEquals(recomputed, state!.Frontier[i]);
                lines.Add($"entries {subtree.Start}…{subtree.End - 1}: {(agrees ? "as signed" : recomputed is null ? "no longer all present" : "DIFFERS from what was signed")}");
                if (!agrees && changeFrom is null)
                {
                    changeFrom = subtree.Start;
                    changeTo = subtree.End;
                }
            }
            return (lines, changeFrom, changeTo);
        }

        private void Note(long size, bool good)
        {
            if (good && _firstBad is null)
            {
                _lastGood = Math.Max(_lastGood, size);
            }
            else if (!good)
            {
                _firstBad = _firstBad is { } bad ? Math.Min(bad, size) : size;
            }
        }

        // The next page of stored checkpoints, once the queue has run dry.
        private async Task RefillAsync()
        {
            if (_checkpoints.Count > 0 || !_moreCheckpoints)
            {
                return;
            }
            var page = await store.CheckpointsAsync(_nextCheckpoint, long.MaxValue, Page, cancellationToken);
            foreach (var row in page)
            {
                _checkpoints.Enqueue(row);
            }
            _moreCheckpoints = page.Count == Page;
            _nextCheckpoint = page.Count > 0 ? page[^1].TreeSize + 1 : _nextCheckpoint;
        }

        private void Judge(CheckpointRow row, byte[] root)
        {
            var verified = SignedNote.TryParse(row.Note, out _) is { } note && note.VerifiedBy(published).Count > 0
                && Checkpoint.TryParse(note.Text, out _) is { } body && body.Origin == origin && body.Size == row.TreeSize
                && CryptographicOperations.FixedTimeEquals(body.Root, row.RootHash);
            if (!verified)
            {
                Add(_checkpointFindings, $"checkpoint at size {row.TreeSize}: no valid signature from a checkpoint key of {origin}");
                return;
            }
            if (CryptographicOperations.FixedTimeEquals(row.RootHash, root))
            {
                _checkpointsAgreeing++;
                Note(row.TreeSize, good: true);
            }
            else
            {
                Add(_checkpointFindings, $"checkpoint at size {row.TreeSize} (signed {AuditBundle.FormatTime(row.CreatedAt)}): signed root {Convert.ToBase64String(row.RootHash)}, the rows now give {Convert.ToBase64String(root)}");
                Note(row.TreeSize, good: false);
            }
        }
    }

    private static void Add(List<string> list, string line)
    {
        if (list.Count < MaxListed)
        {
            list.Add(line);
        }
        else if (list.Count == MaxListed)
        {
            list.Add("… (more not listed)");
        }
    }
}
