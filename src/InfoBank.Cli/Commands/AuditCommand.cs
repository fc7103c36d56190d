using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Cli.Commands;

internal static class AuditCommand
{
    public static Command Create()
    {
        var audit = new Command("audit", "Verify and export the tamper-evident audit log.");
        audit.Subcommands.Add(Verify());
        audit.Subcommands.Add(Export());
        audit.Subcommands.Add(Record());
        audit.Subcommands.Add(SignCheckpoint());
        return audit;
    }

    private static Command Verify()
    {
        var bundle = new Argument<FileInfo>("bundle") { Description = "The exported bundle (NDJSON from GET /api/v1/audit/export or 'infobank audit export'); '-' reads standard input." };
        var trusted = new Option<FileInfo?>("--trusted") { Description = "A checkpoint accepted earlier (the file a previous run wrote); the bundle must extend it." };
        var keys = new Option<string[]>("--key") { Description = "The log's checkpoint verifier key (name+keyid+base64, from /api/v1/audit/keys), obtained out of band. Repeatable. Without it the bundle's own keys are trusted.", AllowMultipleArgumentsPerToken = false };
        var output = new Option<FileInfo?>("--write-trusted") { Description = "Where to write the new trusted checkpoint (default: print it)." };
        var command = new Command("verify", """
            Verify an audit bundle offline, with no database: every checkpoint signature, every leaf and
            root recomputed, consistency with a previously trusted checkpoint, sequence and time order,
            and a consent replay flagging any allowed access without an active consent. Exits 0 only if
            everything holds; otherwise names the first bad entry.
            """);
        command.Arguments.Add(bundle);
        command.Options.Add(trusted);
        command.Options.Add(keys);
        command.Options.Add(output);
        command.SetAction(parse =>
        {
            var pinned = new List<NoteVerifier>();
            foreach (var text in parse.GetValue(keys) ?? [])
            {
                var key = NoteVerifier.TryParse(text, out var error);
                if (key is null)
                {
                    Console.Error.WriteLine($"error: --key {text}: {error}");
                    return 2;
                }
                pinned.Add(key);
            }
            string? trustedNote = null;
            if (parse.GetValue(trusted) is { } trustedFile)
            {
                if (!trustedFile.Exists)
                {
                    Console.Error.WriteLine($"error: trusted checkpoint {trustedFile.FullName} does not exist");
                    return 2;
                }
                trustedNote = File.ReadAllText(trustedFile.FullName);
            }
            var file = parse.GetValue(bundle)!;
            if (file.Name != "-" && !file.Exists)
            {
                Console.Error.WriteLine($"error: bundle {file.FullName} does not exist");
                return 2;
            }
            using var stream = file.Name == "-" ? Console.OpenStandardInput() : new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var watch = Stopwatch.StartNew();
            var interactive = !Console.IsErrorRedirected;
            var report = AuditVerifier.Verify(stream, new AuditVerifierOptions
            {
                PinnedKeys = pinned,
                TrustedCheckpoint = trustedNote,
                Progress = new SyncProgress(n => Console.Error.Write(interactive
                    ? $"\rverified {n:N0} entries ({n / Math.Max(watch.Elapsed.TotalSeconds, 0.001):N0}/s)…"
                    : $"verified {n:N0} entries…\n")),
            });
            if (interactive)
            {
                Console.Error.Write("\r\u001b[K");
            }
            Print(report, watch.Elapsed);
            if (report.LatestCheckpoint is { } latest && report.Failure is null)
            {
                if (parse.GetValue(output) is { } target)
                {
                    File.WriteAllText(target.FullName, latest);
                    Console.WriteLine($"new trusted checkpoint written to {target.FullName}");
                }
                else
                {
                    Console.WriteLine("new trusted checkpoint:");
                    Console.Write(latest);
                }
            }
            return report.Ok ? 0 : 1;
        });
        return command;
    }

    private static void Print(AuditVerificationReport report, TimeSpan elapsed)
    {
        Console.WriteLine($"audit bundle for {(report.Origin.Length > 0 ? report.Origin : "(unknown origin)")}");
        Console.WriteLine($"  entries verified:     {report.Entries:N0} in {elapsed.TotalSeconds:0.0} s");
        Console.WriteLine($"  checkpoints verified: {report.CheckpointsVerified:N0} (latest at size {report.LatestCheckpointSize:N0})");
        if (report.TrustedCheckpointConsistent)
        {
            Console.WriteLine("  consistent with the trusted checkpoint");
        }
        foreach (var key in report.TrustedKeys)
        {
            Console.WriteLine($"  trusted key:          {key}");
        }
        foreach (var (kind, count) in report.CountsByKind.OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            Console.WriteLine($"    {kind,-24} {count,12:N0}");
        }
        foreach (var note in report.Notes)
        {
            Console.WriteLine($"  note: {note}");
        }
        foreach (var finding in report.Findings)
        {
            Console.WriteLine($"  CONSENT VIOLATION: {finding}");
        }
        if (report.Failure is { } failure)
        {
            Console.WriteLine($"FAILED: {failure}");
        }
        else
        {
            Console.WriteLine(report.Ok ? "OK: the log is complete and unaltered" : $"FAILED: {report.Findings.Count} access(es) without an active consent");
        }
    }

    private static Command Export()
    {
        var output = new Option<FileInfo>("--out") { Description = "File to write the bundle to.", Required = true };
        var upto = new Option<long?>("--upto") { Description = "Export the first N entries (default: up to the latest checkpoint)." };
        var command = new Command("export", "Export the audit bundle from the configured database (what GET /api/v1/audit/export serves).");
        command.Options.Add(output);
        command.Options.Add(upto);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build(parse, services => services.AddAuditLog());
            var exporter = host.Services.GetRequiredService<AuditExporter>();
            var (defaultSize, current) = await exporter.SizesAsync(cancellationToken);
            var size = parse.GetValue(upto) ?? defaultSize;
            if (size < 0 || size > current)
            {
                Console.Error.WriteLine($"error: --upto must be between 0 and {current}, the entries the log holds");
                return 2;
            }
            var target = parse.GetValue(output)!;
            await using (var file = new FileStream(target.FullName, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await exporter.WriteAsync(file, size, cancellationToken);
            }
            Console.WriteLine($"exported {size:N0} entries to {target.FullName}");
            return 0;
        });
        return command;
    }

    private static Command Record()
    {
        var kind = new Option<string>("--kind") { Description = "Entry kind: an event outside the service (key.rotated or key.destroyed).", Required = true };
        var actor = new Option<string>("--actor") { Description = "Who acted: operator:{name}.", Required = true };
        var subject = new Option<string?>("--subject") { Description = "The resident's account id, if the event concerns a resident (the log names them by their audit pseudonym)." };
        var purpose = new Option<string?>("--purpose") { Description = "Purpose code, where relevant." };
        var payload = new Option<string?>("--payload") { Description = "Details as a JSON object (no personal data)." };
        var count = new Option<int>("--count") { Description = "Record the entry this many times (drills and load tests).", DefaultValueFactory = _ => 1 };
        var parallel = new Option<int>("--parallel") { Description = "Concurrent appenders when --count > 1.", DefaultValueFactory = _ => 1 };
        var command = new Command("record", """
            Record an event that happened outside the service (an offline key ceremony, a drill) in the
            audit log, through the same group-commit writer the server uses. Prints each entry's sequence
            number once it is durable.
            """);
        foreach (var option in new Option[] { kind, actor, subject, purpose, payload, count, parallel })
        {
            command.Options.Add(option);
        }
        command.SetAction(async (parse, cancellationToken) =>
        {
            var kindValue = parse.GetValue(kind)!;
            var actorValue = parse.GetValue(actor)!;
            if (!OutOfBandKinds.Contains(kindValue))
            {
                Console.Error.WriteLine($"error: --kind must be one of: {string.Join(", ", OutOfBandKinds.Order(StringComparer.Ordinal))}");
                return 2;
            }
            if (!(actorValue.StartsWith("operator:", StringComparison.Ordinal) && actorValue.Length > 9))
            {
                Console.Error.WriteLine("error: --actor must be operator:{name}");
                return 2;
            }
            if (parse.GetValue(subject) is { } subjectValue && !Guid.TryParseExact(subjectValue, "D", out _))
            {
                Console.Error.WriteLine("error: --subject must be a resident's account id");
                return 2;
            }
            System.Text.Json.JsonElement? details = null;
            if (parse.GetValue(payload) is { } json)
            {
                try
                {
                    using var doc = System.Text.Json.JsonDocument.Parse(json);
                    if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object)
                    {
                        throw new System.Text.Json.JsonException();
                    }
                    details = doc.RootElement.Clone();
                }
                catch (System.Text.Json.JsonException)
                {
                    Console.Error.WriteLine("error: --payload must be a JSON object");
                    return 2;
                }
            }
            var total = parse.GetValue(count);
            var workers = parse.GetValue(parallel);
            if (total < 1 || workers < 1 || workers > 256)
            {
                Console.Error.WriteLine("error: --count must be at least 1 and --parallel between 1 and 256");
                return 2;
            }
            using var host = CliHost.Build(parse, services => services.AddAuditLog());
            var log = host.Services.GetRequiredService<IAuditLog>();
            var draft = new AuditEntryDraft(kindValue, actorValue, parse.GetValue(subject), parse.GetValue(purpose), Payload: details);
            var next = 0;
            var output = TextWriter.Synchronized(Console.Out);
            await Task.WhenAll(Enumerable.Range(0, Math.Min(workers, total)).Select(_ => Task.Run(async () =>
            {
                while (Interlocked.Increment(ref next) <= total)
                {
                    var appended = await log.AppendAsync(draft, cancellationToken);
                    output.WriteLine($"recorded {appended.Sequence}");
                }
            }, cancellationToken)));
            return 0;
        });
        return command;
    }

    // Only events that happen outside the service (a key ceremony, a drill). Consent, grant and
    // access entries are evidence the verifier replays; an operator must not be able to add them
    // after the fact, nor write as the service itself ("system").
    private static readonly HashSet<string> OutOfBandKinds = new([AuditKinds.KeyRotated, AuditKinds.KeyDestroyed], StringComparer.Ordinal);

    private static Command SignCheckpoint()
    {
        var command = new Command("checkpoint", """
            Sign a checkpoint of the current tree head now, if the log has grown (what the recurring job
            does every few seconds), through the same signer: it signs only a tree that extends the last
            checkpoint it signed, with every new leaf recomputed from its row, and refuses (exit 1) while
            it is halted. 'status' shows why it halted; 'resume' re-checks after a repair.
            """);
        command.Subcommands.Add(CheckpointStatus());
        command.Subcommands.Add(CheckpointResume());
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build(parse, services => services.AddAuditLog());
            var outcome = await host.Services.GetRequiredService<ICheckpointSigner>().SignAsync(cancellationToken);
            return PrintOutcome(outcome, "The log has not grown since the last checkpoint (or is empty); nothing to sign.");
        });
        return command;
    }

    private static Command CheckpointStatus()
    {
        var check = new Option<bool>("--check")
        {
            Description = "Also recompute the whole log from its rows (a full scan) and compare it with the signer's state and every stored checkpoint, to find where it differs. Changes nothing.",
        };
        var command = new Command("status", """
            Show the checkpoint signer's own record (kept beside its key, outside the database): the last
            checkpoint it signed, how it started, and whether it is halted and why. Exits 1 while halted
            (or, with --check, when the log is not consistent with what was signed).
            """);
        command.Options.Add(check);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build(parse, services => services.AddAuditLog());
            var status = await host.Services.GetRequiredService<ICheckpointSigner>().StatusAsync(cancellationToken);
            Console.WriteLine($"checkpoint signer for {status.Origin}");
            Console.WriteLine($"  state file:   {host.Services.GetRequiredService<SignerStateFile>().StatePath}");
            if (status.SignedSize is { } size)
            {
                Console.WriteLine($"  last signed:  size {size:N0}, root {(status.SignedRoot is { } root ? Convert.ToBase64String(root) : "-")}, at {status.SignedAt?.ToString("O", CultureInfo.InvariantCulture) ?? "-"}");
            }
            else if (status.Halt is null)
            {
                Console.WriteLine("  nothing signed yet: the first run bootstraps from the database");
            }
            if (status.Bootstrap is { } bootstrap)
            {
                Console.WriteLine($"  bootstrapped: {bootstrap.At.ToString("O", CultureInfo.InvariantCulture)} at size {bootstrap.Size:N0}, " +
                    (bootstrap.CheckedAgainstSize is { } against ? $"checked against the stored checkpoint at size {against:N0}" : "no stored checkpoint to check against"));
            }
            if (status.Halt is { } halt)
            {
                Console.WriteLine($"  HALTED since {halt.At.ToString("O", CultureInfo.InvariantCulture)}: {halt.Code}{(halt.Sequence is { } seq ? $" at sequence {seq}" : "")}");
                foreach (var finding in halt.Findings)
                {
                    Console.WriteLine($"    - {finding}");
                }
            }
            var consistent = true;
            if (parse.GetValue(check))
            {
                var report = await host.Services.GetRequiredService<SignerDiagnosis>().RunAsync(cancellationToken);
                Console.WriteLine($"full check: {report.RowsRead:N0} rows recomputed; the frontier claims {report.ClaimedSize:N0} entries and {(report.FrontierAgrees ? "agrees with them" : "does NOT agree with them")}");
                foreach (var line in report.RowFindings)
                {
                    Console.WriteLine($"  row: {line}");
                }
                if (report.SignedSize is { } signed)
                {
                    Console.WriteLine($"  against the signer's checkpoint at size {signed:N0}:");
                    foreach (var line in report.SignedSubtrees)
                    {
                        Console.WriteLine($"    {line}");
                    }
                }
                Console.WriteLine($"  stored checkpoints that verify and agree with the rows: {report.CheckpointsAgreeing:N0}");
                foreach (var line in report.CheckpointFindings)
                {
                    Console.WriteLine($"  checkpoint: {line}");
                }
                if (report.FirstChangeFrom is { } from && report.FirstChangeTo is { } to)
                {
                    Console.WriteLine($"  the log first differs from what was signed within entries {from:N0}…{Math.Max(from, to - 1):N0}: compare them with an auditor's exported bundle to see what was changed or removed");
                }
                Console.WriteLine(report.Consistent ? "OK: the rows, the database's tree and every signed checkpoint agree" : "NOT CONSISTENT");
                consistent = report.Consistent;
            }
            return status.Halted || !consistent ? 1 : 0;
        });
        return command;
    }

    private static Command CheckpointResume()
    {
        var command = new Command("resume", """
            After repairing the database (restoring the changed or missing entries, for example from a
            backup or an auditor's bundle), check a halted signer again from its own saved state. It clears
            the halt and signs only if the log once more extends the last checkpoint it signed, with every
            new leaf recomputed from its row; otherwise it stays halted and prints why (exit 1). It never
            re-trusts the database.
            """);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CliHost.Build(parse, services => services.AddAuditLog());
            var outcome = await host.Services.GetRequiredService<ICheckpointSigner>().ResumeAsync(cancellationToken);
            return PrintOutcome(outcome, "The log extends the last signed checkpoint; the signer is not halted and had nothing new to sign.");
        });
        return command;
    }

    private static int PrintOutcome(CheckpointOutcome outcome, string upToDate)
    {
        switch (outcome.Kind)
        {
            case CheckpointOutcomeKind.Signed:
                Console.Write(outcome.Checkpoint!.Note);
                return 0;
            case CheckpointOutcomeKind.UpToDate:
                if (outcome.Checkpoint is { } covering)
                {
                    Console.Write(covering.Note);
                }
                else
                {
                    Console.WriteLine(upToDate);
                }
                return 0;
            case CheckpointOutcomeKind.Busy:
                Console.Error.WriteLine("error: another signer (a server node or another CLI) held the signer's lock for too long; try again");
                return 1;
            default:
                var halt = outcome.Halt!;
                Console.Error.WriteLine($"REFUSED: the checkpoint signer is halted ({halt.Code}{(halt.Sequence is { } seq ? $" at sequence {seq}" : "")}): nothing was signed.");
                foreach (var finding in halt.Findings)
                {
                    Console.Error.WriteLine($"  - {finding}");
                }
                Console.Error.WriteLine("Run 'infobank audit checkpoint status --check' to see where the log differs from what was signed.");
                return 1;
        }
    }

    /// <summary>Progress reported on the verifying thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
