using System.CommandLine;
using System.Diagnostics;
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

    /// <summary>Progress reported on the verifying thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
