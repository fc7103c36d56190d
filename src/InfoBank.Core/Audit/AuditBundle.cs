using System.Globalization;
using System.Text.Json;

namespace InfoBank.Core.Audit;

/// <summary>
/// The export bundle, one JSON object per line (NDJSON), in this order:
/// <code>
/// {"type":"bundle","format":"infobank-audit-bundle/1","origin":"…","size":N}
/// {"type":"key","vkey":"name+keyid+base64"}                        (one per checkpoint key)
/// {"type":"checkpoint","note":"…signed note…"}                      (ascending tree size, each ≤ N)
/// {"type":"entry","seq":0,"time":"2026-11-22T09:00:00.000000Z","kind":"…","actor":"…",
///  "subject":"…","purpose":"…","grant":"…","policyHash":"…","payload":"…json text…",
///  "sealed":"base64","leaf":"base64"}                                (N lines, seq 0…N-1; absent fields omitted)
/// {"type":"end","size":N}
/// </code>
/// Keys and checkpoints come first so a verifier can check roots while streaming the entries.
/// </summary>
public static class AuditBundle
{
    public const string Format = "infobank-audit-bundle/1";
    public const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    public static string FormatTime(DateTimeOffset time) =>
        time.ToUniversalTime().ToString(TimeFormat, CultureInfo.InvariantCulture);

    public static bool TryParseTime(string? text, out DateTimeOffset time) =>
        DateTimeOffset.TryParseExact(text, TimeFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);
}

/// <summary>Writes a bundle line by line to a stream (the server's export, the benchmark's generator, tests).</summary>
public sealed class AuditBundleWriter(Stream stream) : IAsyncDisposable, IDisposable
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private readonly Utf8JsonWriter _json = new(stream, new JsonWriterOptions { SkipValidation = false });

    public void WriteHeader(string origin, long size) => Line(w =>
    {
        w.WriteString("type", "bundle");
        w.WriteString("format", AuditBundle.Format);
        w.WriteString("origin", origin);
        w.WriteNumber("size", size);
    });

    public void WriteKey(NoteVerifier key) => Line(w =>
    {
        w.WriteString("type", "key");
        w.WriteString("vkey", key.VerifierKey);
    });

    public void WriteCheckpoint(string signedNote) => Line(w =>
    {
        w.WriteString("type", "checkpoint");
        w.WriteString("note", signedNote);
    });

    public void WriteEntry(AuditEntry entry, byte[] leafHash) => Line(w =>
    {
        w.WriteString("type", "entry");
        w.WriteNumber("seq", entry.Sequence);
        w.WriteString("time", AuditBundle.FormatTime(entry.Time));
        w.WriteString("kind", entry.Kind);
        w.WriteString("actor", entry.Actor);
        if (entry.SubjectRef is not null)
        {
            w.WriteString("subject", entry.SubjectRef);
        }
        if (entry.Purpose is not null)
        {
            w.WriteString("purpose", entry.Purpose);
        }
        if (entry.GrantId is { } grant)
        {
            w.WriteString("grant", grant.ToString("D"));
        }
        if (entry.PolicyHash is not null)
        {
            w.WriteString("policyHash", entry.PolicyHash);
        }
        if (entry.Payload is not null)
        {
            w.WriteString("payload", entry.Payload);
        }
        if (entry.SealedPersonalData is not null)
        {
            w.WriteBase64String("sealed", entry.SealedPersonalData);
        }
        w.WriteBase64String("leaf", leafHash);
    });

    public void WriteEnd(long size) => Line(w =>
    {
        w.WriteString("type", "end");
        w.WriteNumber("size", size);
    });

    /// <summary>Pushes buffered lines to the stream (the export flushes every page).</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => stream.FlushAsync(cancellationToken);

    private void Line(Action<Utf8JsonWriter> body)
    {
        _json.Reset(stream);
        _json.WriteStartObject();
        body(_json);
        _json.WriteEndObject();
        _json.Flush();
        stream.Write(NewLine);
    }

    public void Dispose() => _json.Dispose();

    public ValueTask DisposeAsync() => _json.DisposeAsync();
}
