using System.Security.Cryptography;
using System.Text.Json;

namespace InfoBank.Core.Audit;

/// <summary>What the verifier is told to trust beyond the bundle itself.</summary>
public sealed class AuditVerifierOptions
{
    /// <summary>
    /// Checkpoint keys to trust. When empty, the keys the bundle publishes are trusted (trust on
    /// first use); an auditor should pin the key they obtained out of band.
    /// </summary>
    public IReadOnlyList<NoteVerifier> PinnedKeys { get; init; } = [];

    /// <summary>A signed checkpoint accepted earlier; the bundle must extend it.</summary>
    public string? TrustedCheckpoint { get; init; }

    /// <summary>Receives the number of entries verified so far, now and then.</summary>
    public IProgress<long>? Progress { get; init; }

    /// <summary>How many entries between progress reports.</summary>
    public int ProgressInterval { get; init; } = 100_000;
}

/// <summary>The outcome. <see cref="Ok"/> is false on the first integrity failure or any consent finding.</summary>
public sealed class AuditVerificationReport
{
    public bool Ok => Failure is null && Findings.Count == 0;

    /// <summary>The first integrity failure, naming the entry or checkpoint; verification stops there.</summary>
    public string? Failure { get; set; }

    /// <summary>The sequence number (or bundle position) of the first bad entry, when one is to blame.</summary>
    public long? FirstBadEntry { get; set; }

    public string Origin { get; set; } = "";

    public long Entries { get; set; }

    public int CheckpointsVerified { get; set; }

    public bool TrustedCheckpointConsistent { get; set; }

    public IReadOnlyList<string> TrustedKeys { get; set; } = [];

    /// <summary>The largest verified checkpoint: what to pass as the trusted checkpoint next time.</summary>
    public string? LatestCheckpoint { get; set; }

    public long LatestCheckpointSize { get; set; }

    /// <summary>Allowed accesses with no active consent at that moment (consent replay).</summary>
    public List<string> Findings { get; } = [];

    /// <summary>Observations that are not failures (for example entries not yet under a checkpoint).</summary>
    public List<string> Notes { get; } = [];

    public Dictionary<string, long> CountsByKind { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Verifies an exported audit bundle offline, streaming: every checkpoint signature, every leaf and
/// every checkpoint root recomputed from the entries, sequence and time order, consistency with a
/// previously trusted checkpoint, and a replay of consent events that flags any allowed access
/// with no active consent for that subject and purpose at that moment.
/// </summary>
public static class AuditVerifier
{
    private const int MaxFindings = 100;

    public static AuditVerificationReport Verify(Stream bundle, AuditVerifierOptions options)
    {
        var report = new AuditVerificationReport();
        try
        {
            new Run(report, options).Execute(bundle);
        }
        catch (VerificationFailed failure)
        {
            report.Failure = failure.Message;
            report.FirstBadEntry = failure.Entry;
        }
        return report;
    }

    private sealed class VerificationFailed(string message, long? entry = null) : Exception(message)
    {
        public long? Entry { get; } = entry;
    }

    private sealed record Check(long Size, byte[] Root, string Label);

    private sealed class Run(AuditVerificationReport report, AuditVerifierOptions options)
    {
        private readonly List<NoteVerifier> _bundleKeys = [];
        private readonly List<string> _checkpointNotes = [];
        private readonly List<Check> _checks = [];
        private readonly ConsentReplay _consents = new();
        private List<NoteVerifier> _trusted = [];
        private int _nextCheck;
        private long _declaredSize;
        private bool _entriesStarted;
        private long _lineNumber;

        public void Execute(Stream bundle)
        {
            using var reader = new StreamReader(bundle, leaveOpen: true);
            ReadHeader(reader.ReadLine());
            var range = new CompactRange();
            DateTimeOffset? lastTime = null;
            var ended = false;
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                _lineNumber++;
                if (line.Length == 0)
                {
                    continue;
                }
                if (ended)
                {
                    throw new VerificationFailed($"line {_lineNumber + 1}: content after the end line");
                }
                using var doc = ParseLine(line, range.Size);
                var root = doc.RootElement;
                switch (Text(root, "type"))
                {
                    case "key" when !_entriesStarted:
                        ReadKey(root);
                        break;
                    case "checkpoint" when !_entriesStarted:
                        _checkpointNotes.Add(Text(root, "note") ?? throw new VerificationFailed($"line {_lineNumber + 1}: a checkpoint line without a note"));
                        break;
                    case "entry":
                        if (!_entriesStarted)
                        {
                            StartEntries();
                        }
                        lastTime = ReadEntry(root, range, lastTime);
                        break;
                    case "end":
                        if (!_entriesStarted)
                        {
                            StartEntries();
                        }
                        ReadEnd(root, range.Size);
                        ended = true;
                        break;
                    case "key" or "checkpoint":
                        throw new VerificationFailed($"line {_lineNumber + 1}: keys and checkpoints must come before the entries");
                    default:
                        throw new VerificationFailed($"line {_lineNumber + 1}: unknown line type");
                }
            }
            if (!ended)
            {
                throw new VerificationFailed($"the bundle ends after {range.Size} entries without its end line: it was cut short", range.Size);
            }
            Finish(range);
        }

        private JsonDocument ParseLine(string line, long position)
        {
            try
            {
                return JsonDocument.Parse(line);
            }
            catch (JsonException)
            {
                var what = _entriesStarted ? $"entry {position} (line {_lineNumber + 1})" : $"line {_lineNumber + 1}";
                throw new VerificationFailed($"{what} is not valid JSON: the bundle was altered or damaged", _entriesStarted ? position : null);
            }
        }

        private void ReadHeader(string? line)
        {
            if (line is null)
            {
                throw new VerificationFailed("the bundle is empty");
            }
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line);
            }
            catch (JsonException)
            {
                throw new VerificationFailed("line 1 is not a bundle header (not JSON)");
            }
            using (doc)
            {
                var root = doc.RootElement;
                if (Text(root, "type") != "bundle" || Text(root, "format") != AuditBundle.Format)
                {
                    throw new VerificationFailed($"line 1 is not a {AuditBundle.Format} header");
                }
                report.Origin = Text(root, "origin") ?? throw new VerificationFailed("the bundle header names no origin");
                _declaredSize = Number(root, "size") ?? throw new VerificationFailed("the bundle header states no size");
            }
        }

        private void ReadKey(JsonElement root)
        {
            var key = NoteVerifier.TryParse(Text(root, "vkey") ?? "", out var error)
                ?? throw new VerificationFailed($"line {_lineNumber + 1}: bad key: {error}");
            _bundleKeys.Add(key);
        }

        /// <summary>Once keys and checkpoints are read: settle trust, verify signatures, order the root checks.</summary>
        private void StartEntries()
        {
            _entriesStarted = true;
            _trusted = options.PinnedKeys.Count > 0 ? [.. options.PinnedKeys] : _bundleKeys;
            if (options.PinnedKeys.Count == 0)
            {
                report.Notes.Add("no key was pinned: the keys published in the bundle were trusted (pass --key to pin the log's key)");
            }
            report.TrustedKeys = _trusted.Select(k => k.VerifierKey).ToList();

            long previous = -1;
            foreach (var noteText in _checkpointNotes)
            {
                var (checkpoint, signed) = ReadCheckpoint(noteText);
                if (checkpoint.Size <= previous)
                {
                    throw new VerificationFailed($"checkpoint for size {checkpoint.Size} is out of order (after size {previous})");
                }
                if (checkpoint.Size > _declaredSize)
                {
                    throw new VerificationFailed($"checkpoint for size {checkpoint.Size} lies beyond the bundle's {_declaredSize} entries");
                }
                previous = checkpoint.Size;
                _checks.Add(new Check(checkpoint.Size, checkpoint.Root, $"checkpoint for size {checkpoint.Size}"));
                report.LatestCheckpoint = signed.ToString();
                report.LatestCheckpointSize = checkpoint.Size;
            }

            if (options.TrustedCheckpoint is { } trustedText)
            {
                var note = SignedNote.TryParse(trustedText, out var error)
                    ?? throw new VerificationFailed($"the trusted checkpoint is not a signed note: {error}");
                var trusted = Checkpoint.TryParse(note.Text, out error)
                    ?? throw new VerificationFailed($"the trusted checkpoint is not a checkpoint: {error}");
                var truncated = trusted.Size > _declaredSize;
                var keyChanged = note.VerifiedBy(_trusted).Count == 0;
                var problem = (truncated, keyChanged) switch
                {
                    (true, true) => $"the log was truncated and re-signed: the trusted checkpoint covers {trusted.Size} entries but the bundle holds only {_declaredSize}, and no trusted key signed the trusted checkpoint (the signing key changed)",
                    (true, false) => $"the log was truncated: the trusted checkpoint covers {trusted.Size} entries but the bundle holds only {_declaredSize}",
                    (false, true) => "the trusted checkpoint is not signed by any trusted key: the log's signing key changed or the checkpoint was forged",
                    _ => trusted.Origin != report.Origin ? $"the trusted checkpoint is for origin '{trusted.Origin}', not this log's '{report.Origin}'" : null,
                };
                if (problem is not null)
                {
                    throw new VerificationFailed(problem, truncated ? _declaredSize : null);
                }
                _checks.Add(new Check(trusted.Size, trusted.Root, $"the trusted checkpoint (size {trusted.Size})"));
            }
            _checks.Sort((a, b) => a.Size.CompareTo(b.Size));
            RunChecksAt(new CompactRange());
        }

        private (Checkpoint Checkpoint, SignedNote Note) ReadCheckpoint(string noteText)
        {
            var note = SignedNote.TryParse(noteText, out var error)
                ?? throw new VerificationFailed($"checkpoint {report.CheckpointsVerified + 1} is not a signed note: {error}");
            var checkpoint = Checkpoint.TryParse(note.Text, out error)
                ?? throw new VerificationFailed($"checkpoint {report.CheckpointsVerified + 1} is not a checkpoint: {error}");
            if (note.VerifiedBy(_trusted).Count == 0)
            {
                throw new VerificationFailed($"checkpoint for size {checkpoint.Size} has no valid signature from a trusted key");
            }
            if (checkpoint.Origin != report.Origin)
            {
                throw new VerificationFailed($"checkpoint for size {checkpoint.Size} is for origin '{checkpoint.Origin}', not this log's '{report.Origin}'");
            }
            report.CheckpointsVerified++;
            return (checkpoint, note);
        }

        private DateTimeOffset ReadEntry(JsonElement root, CompactRange range, DateTimeOffset? lastTime)
        {
            var position = range.Size;
            var seq = Number(root, "seq");
            if (seq != position)
            {
                throw new VerificationFailed(seq is null
                    ? $"entry {position} has no sequence number"
                    : $"entry {position} has sequence {seq}, expected {position}: an entry is missing or out of order", position);
            }
            if (!AuditBundle.TryParseTime(Text(root, "time"), out var time))
            {
                throw new VerificationFailed($"entry {position} has no valid time", position);
            }
            if (lastTime is { } last && time < last)
            {
                throw new VerificationFailed($"entry {position} is dated before entry {position - 1}: time goes backwards", position);
            }
            var kind = Text(root, "kind");
            var actor = Text(root, "actor");
            if (kind is null || actor is null)
            {
                throw new VerificationFailed($"entry {position} lacks a kind or an actor", position);
            }
            Guid? grant = null;
            if (Text(root, "grant") is { } grantText)
            {
                grant = Guid.TryParseExact(grantText, "D", out var g) && g.ToString("D") == grantText
                    ? g
                    : throw new VerificationFailed($"entry {position} has a malformed grant id", position);
            }
            var entry = new AuditEntry(position, time, kind, actor, Text(root, "subject"), Text(root, "purpose"), grant,
                Text(root, "policyHash"), Text(root, "payload"), Bytes(root, "sealed", position));
            var leaf = entry.LeafHash();
            if (Bytes(root, "leaf", position) is { } recorded && !CryptographicOperations.FixedTimeEquals(recorded, leaf))
            {
                throw new VerificationFailed($"entry {position} does not match its recorded leaf hash: its content was altered", position);
            }
            range.Append(leaf);
            report.CountsByKind[kind] = report.CountsByKind.GetValueOrDefault(kind) + 1;
            if (report.Findings.Count < MaxFindings && _consents.Apply(entry) is { } finding)
            {
                report.Findings.Add(finding);
            }
            RunChecksAt(range);
            if (options.Progress is { } progress && range.Size % options.ProgressInterval == 0)
            {
                progress.Report(range.Size);
            }
            return time;
        }

        private void RunChecksAt(CompactRange range)
        {
            while (_nextCheck < _checks.Count && _checks[_nextCheck].Size == range.Size)
            {
                var check = _checks[_nextCheck++];
                if (!CryptographicOperations.FixedTimeEquals(check.Root, range.Root()))
                {
                    var from = _nextCheck >= 2 ? _checks[_nextCheck - 2].Size : 0;
                    throw new VerificationFailed(check.Label.StartsWith("the trusted", StringComparison.Ordinal)
                        ? $"the log is inconsistent with {check.Label}: entries before {check.Size} were changed"
                        : $"{check.Label} does not match the entries: an entry in [{from}, {check.Size}) was altered, removed or reordered", from);
                }
                if (check.Label.StartsWith("the trusted", StringComparison.Ordinal))
                {
                    report.TrustedCheckpointConsistent = true;
                }
            }
        }

        private void ReadEnd(JsonElement root, long count)
        {
            var size = Number(root, "size");
            if (size != count || count != _declaredSize)
            {
                throw new VerificationFailed($"the bundle declares {_declaredSize} entries (end line: {size}) but holds {count}", count);
            }
        }

        private void Finish(CompactRange range)
        {
            report.Entries = range.Size;
            foreach (var finding in _consents.Finish())
            {
                if (report.Findings.Count >= MaxFindings)
                {
                    break;
                }
                report.Findings.Add(finding);
            }
            if (_nextCheck < _checks.Count)
            {
                throw new VerificationFailed($"{_checks[_nextCheck].Label} was never reached: the bundle holds {range.Size} entries", range.Size);
            }
            if (report.LatestCheckpoint is null)
            {
                report.Notes.Add("the bundle carries no checkpoint: nothing vouches for its entries");
            }
            else if (report.LatestCheckpointSize < range.Size)
            {
                report.Notes.Add($"entries {report.LatestCheckpointSize}…{range.Size - 1} are not yet covered by a signed checkpoint");
            }
            if (report.Findings.Count >= MaxFindings)
            {
                report.Notes.Add($"consent findings stopped at {MaxFindings}");
            }
        }

        private byte[]? Bytes(JsonElement root, string name, long position)
        {
            if (!root.TryGetProperty(name, out var value))
            {
                return null;
            }
            return value.ValueKind == JsonValueKind.String && value.TryGetBytesFromBase64(out var bytes)
                ? bytes
                : throw new VerificationFailed($"entry {position} has a malformed '{name}'", position);
        }

        private static string? Text(JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

        private static long? Number(JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) ? n : null;
    }
}

/// <summary>
/// Replays consent events in log order. Matching rule (features record these fields accordingly):
/// a <c>consent.given</c> entry with a subject and a purpose (and optionally a grant) makes consent
/// active for that subject and purpose; <c>consent.withdrawn/expired/revoked/invalidated</c> for the
/// same subject and purpose ends it (for that grant only, when the entry names one); an
/// <c>access.allowed</c> entry with a subject and purpose needs an active consent whose grant is
/// unset or equal to the access's grant. Accesses without a subject (aggregates) are not checked here.
/// A revoked grant (<c>grant.revoked</c>) allows no further access, and a suspended grant
/// (<c>grant.suspended</c>) none until it is reinstated (<c>grant.reinstated</c>); these grant checks
/// apply to every allowed access, aggregates included. An access is judged against its decision
/// horizon: the <c>decidedAfter</c> number in its payload is the log's size when the server read the
/// grant, so a suspension or revocation at or above it may have raced the request and is not held
/// against it, while one below it was committed before the grant was read and is. Without a horizon
/// (or an impossible one) the access's own position is used.
/// <para>
/// An access that provides many residents' data in one entry (a records page, a weekly release)
/// names them and the consents it relied on (<c>residents</c>, by audit pseudonym, and <c>details.consents</c>).
/// Once the whole log is read (<see cref="Finish"/>), every cited consent must be recorded as given
/// before the access (a consent is audited in the transaction that records it, so one audited later
/// was used before its entry was durable), for the access's purpose and grant, and not ended below
/// the access's horizon, and every named resident must be the subject of one of the cited consents.
/// A consent's history is also checked as it is read: given once, ended at most once, never given
/// again after it ended.
/// </para>
/// </summary>
internal sealed class ConsentReplay
{
    private readonly Dictionary<(string Subject, string Purpose), HashSet<Guid>> _active = [];
    private readonly Dictionary<Guid, long> _revokedGrants = [];
    private readonly Dictionary<Guid, long> _suspendedGrants = [];
    private readonly Dictionary<Guid, ConsentTrace> _traces = [];
    private readonly List<Citation> _citations = [];

    private sealed class ConsentTrace
    {
        public long? GivenAt { get; set; }
        public bool Given => GivenAt is not null;
        public string? Subject { get; set; }
        public string? Purpose { get; set; }
        public Guid? Grant { get; set; }
        public long? EndedAt { get; set; }
    }

    private sealed record Citation(long Access, long Horizon, string? Purpose, Guid? Grant, IReadOnlyList<Guid> Consents, IReadOnlyList<string> Residents);

    public string? Apply(AuditEntry entry)
    {
        // Parsed once, and only for the kinds whose payload the replay reads.
        var isConsent = entry.Kind.StartsWith("consent.", StringComparison.Ordinal);
        using var payload = isConsent || entry.Kind == AuditKinds.AccessAllowed ? Payload(entry) : null;
        var root = payload?.RootElement;
        if (isConsent && root is { } consentPayload && Trace(entry, consentPayload) is { } broken)
        {
            return broken;
        }
        switch (entry.Kind)
        {
            case AuditKinds.ConsentGiven when entry.SubjectRef is not null && entry.Purpose is not null:
                var key = (entry.SubjectRef, entry.Purpose);
                if (!_active.TryGetValue(key, out var grants))
                {
                    _active[key] = grants = [];
                }
                grants.Add(entry.GrantId ?? Guid.Empty);
                return null;
            case AuditKinds.ConsentWithdrawn or AuditKinds.ConsentExpired or AuditKinds.ConsentRevoked or AuditKinds.ConsentInvalidated
                when entry.SubjectRef is not null && entry.Purpose is not null:
                if (_active.TryGetValue((entry.SubjectRef, entry.Purpose), out var held))
                {
                    if (entry.GrantId is { } ended)
                    {
                        held.Remove(ended);
                        held.Remove(Guid.Empty);
                    }
                    else
                    {
                        held.Clear();
                    }
                }
                return null;
            case AuditKinds.GrantRevoked when entry.GrantId is { } revoked:
                _revokedGrants.TryAdd(revoked, entry.Sequence);
                return null;
            case AuditKinds.GrantSuspended when entry.GrantId is { } suspended:
                // A repeated entry (the offer sync job re-records a change) keeps the first position.
                _suspendedGrants.TryAdd(suspended, entry.Sequence);
                return null;
            case AuditKinds.GrantReinstated when entry.GrantId is { } reinstated:
                _suspendedGrants.Remove(reinstated);
                return null;
            case AuditKinds.AccessAllowed:
                var horizon = Horizon(entry, root);
                if (root is { } accessPayload)
                {
                    Cite(entry, accessPayload, horizon);
                }
                if (entry.GrantId is { } used && _revokedGrants.TryGetValue(used, out var revokedAt) && revokedAt < horizon)
                {
                    return $"entry {entry.Sequence}: access allowed under grant {used} after it was revoked (entry {revokedAt})";
                }
                if (entry.GrantId is { } paused && _suspendedGrants.TryGetValue(paused, out var suspendedAt) && suspendedAt < horizon)
                {
                    return $"entry {entry.Sequence}: access allowed under grant {paused} while it was suspended (entry {suspendedAt})";
                }
                if (entry.SubjectRef is null)
                {
                    return null;
                }
                if (entry.Purpose is null)
                {
                    return $"entry {entry.Sequence}: access allowed to subject {entry.SubjectRef} with no purpose recorded";
                }
                var active = _active.TryGetValue((entry.SubjectRef, entry.Purpose), out var current)
                    && (current.Contains(Guid.Empty) || (entry.GrantId is { } g ? current.Contains(g) : current.Count > 0));
                return active
                    ? null
                    : $"entry {entry.Sequence}: access allowed to subject {entry.SubjectRef} for purpose {entry.Purpose} with no active consent at {AuditBundle.FormatTime(entry.Time)}";
            default:
                return null;
        }
    }

    /// <summary>The citation findings, once every entry has been applied.</summary>
    public IEnumerable<string> Finish()
    {
        foreach (var citation in _citations)
        {
            // Residents whose cited consent was checked (found valid, or already reported as not).
            var subjects = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var id in citation.Consents)
            {
                if (!_traces.TryGetValue(id, out var trace) || !trace.Given)
                {
                    yield return $"entry {citation.Access}: the access cites consent {id}, which the log never records as given";
                    continue;
                }
                if (trace.Subject is not null)
                {
                    subjects.Add(trace.Subject);
                }
                if (trace.GivenAt > citation.Access)
                {
                    // A consent commits with its own entry, so an access can only have seen it after that
                    // entry: one audited later was used before it was audited.
                    yield return $"entry {citation.Access}: the access cites consent {id}, which is recorded as given only later (entry {trace.GivenAt}): it was used before its audit entry was durable";
                    continue;
                }
                if (!string.Equals(trace.Purpose, citation.Purpose, StringComparison.Ordinal)
                    || (citation.Grant is { } grant && trace.Grant is { } consented && grant != consented))
                {
                    yield return $"entry {citation.Access}: the access cites consent {id}, which was given for another purpose or grant";
                }
                else if (trace.EndedAt is { } ended && ended < citation.Horizon)
                {
                    yield return $"entry {citation.Access}: the access cites consent {id}, which ended at entry {ended}, before the access read its grant";
                }
            }
            foreach (var resident in citation.Residents.Where(r => !subjects.Contains(r)))
            {
                yield return $"entry {citation.Access}: the access provided data of subject {resident} without citing a valid consent of theirs";
            }
        }
    }

    /// <summary>
    /// Follows one consent's life: given once, then ended at most once. A second <c>consent.given</c>
    /// for the same consent, or one after it ended, is a broken history (an event audited twice, or
    /// out of causal order): returned as a finding, and the entry does not re-open the consent.
    /// </summary>
    private string? Trace(AuditEntry entry, JsonElement payload)
    {
        if (!payload.TryGetProperty("consentId", out var idElement) || idElement.ValueKind != JsonValueKind.String || !idElement.TryGetGuid(out var id))
        {
            return null;
        }
        if (!_traces.TryGetValue(id, out var trace))
        {
            _traces[id] = trace = new ConsentTrace();
        }
        trace.Subject ??= entry.SubjectRef;
        trace.Purpose ??= entry.Purpose;
        trace.Grant ??= entry.GrantId;
        if (entry.Kind == AuditKinds.ConsentGiven)
        {
            if (trace.EndedAt is { } ended)
            {
                return $"entry {entry.Sequence}: consent {id} is recorded as given after it ended (entry {ended}): a consent is never re-opened";
            }
            if (trace.GivenAt is { } first)
            {
                return $"entry {entry.Sequence}: consent {id} is recorded as given a second time (first at entry {first})";
            }
            trace.GivenAt = entry.Sequence;
        }
        else if (trace.EndedAt is { } ended)
        {
            return $"entry {entry.Sequence}: consent {id} is recorded as ending again (it ended at entry {ended})";
        }
        else
        {
            trace.EndedAt = entry.Sequence;
        }
        return null;
    }

    private void Cite(AuditEntry entry, JsonElement payload, long horizon)
    {
        // Only entries that name the consents they relied on (a records page, a weekly release).
        if (!payload.TryGetProperty("details", out var details) || details.ValueKind != JsonValueKind.Object
            || !details.TryGetProperty("consents", out var consents) || consents.ValueKind != JsonValueKind.Array)
        {
            return;
        }
        var cited = consents.EnumerateArray().Select(c => c.ValueKind == JsonValueKind.String && c.TryGetGuid(out var g) ? g : Guid.Empty).ToList();
        // Residents are named by audit pseudonym at the top of the payload; logs written before
        // pseudonyms named them by internal id inside the details.
        var residents = (payload.TryGetProperty("residents", out var named) || details.TryGetProperty("residents", out named))
            && named.ValueKind == JsonValueKind.Array
            ? named.EnumerateArray().Select(r => r.ValueKind == JsonValueKind.String ? r.GetString()! : "").ToList()
            : [];
        _citations.Add(new Citation(entry.Sequence, horizon, entry.Purpose, entry.GrantId, cited, residents));
    }

    private static JsonDocument? Payload(AuditEntry entry)
    {
        if (entry.Payload is null)
        {
            return null;
        }
        try
        {
            var document = JsonDocument.Parse(entry.Payload);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }
            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static long Horizon(AuditEntry entry, JsonElement? payload) =>
        payload is { } root
            && root.TryGetProperty("decidedAfter", out var value)
            && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var horizon)
            && horizon >= 0 && horizon <= entry.Sequence
            ? horizon
            : entry.Sequence;
}
