using System.Security.Claims;
using InfoBank.Core.Audit;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InfoBank.Server.Features.Audit;

/// <summary>The auditor's read-only view of the trail, and the public checkpoint key.</summary>
public static class AuditApi
{
    public static void MapAuditApi(this IEndpointRouteBuilder routes)
    {
        // Public so anyone holding a checkpoint can check its signature; the same keys are in the JWKS at /api/v1/keys.
        routes.MapGet("/api/v1/audit/keys", GetKeys).WithTags("Audit").AllowAnonymous().WithName("GetAuditKeys").ProducesProblems()
            .WithSummary("The checkpoint signing keys, current and retired, as C2SP vkeys with their JWKS key ids: what a verifier pins.");

        // A resident checks that an entry about them (e.g. the one their consent receipt names) is in the signed log.
        routes.MapGroup("/api/v1/me/audit").WithTags("Audit").RequireAuthorization(AuthPolicies.Resident)
            .MapGet("/proofs/{sequence:long}", GetMyInclusionProof).WithName("GetMyAuditProof").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.NotYetCheckpointed)
            .WithSummary("Proof that an audit entry about you is in the signed log (against the latest checkpoint), and the pseudonym the log names you by.");

        var api = routes.MapGroup("/api/v1/audit").WithTags("Audit").RequireAuthorization(AuthPolicies.Auditor);
        api.MapGet("/entries", GetEntries).WithName("ListAuditEntries").ProducesProblems()
            .WithSummary("Audit entries in sequence order from ?from= (to ?to=, exclusive), filtered by kind and subject pseudonym, a page at a time (limit, cursor; next and the Link header).");
        api.MapGet("/entries/{sequence:long}", GetEntry).WithName("GetAuditEntry").ProducesProblems(ProblemTypes.NotFound).WithSummary("One audit entry with its leaf hash.");
        api.MapGet("/checkpoints", GetCheckpoints).WithName("ListAuditCheckpoints").ProducesProblems().WithSummary("Signed checkpoints (C2SP tlog-checkpoint notes) from tree size ?from=, oldest first, a page at a time (limit, cursor).");
        api.MapGet("/checkpoints/latest", GetLatestCheckpoint).WithName("GetLatestAuditCheckpoint").ProducesProblems(ProblemTypes.NotFound).WithSummary("The newest signed checkpoint.");
        api.MapGet("/proofs/inclusion", GetInclusionProof).WithName("GetAuditInclusionProof").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.NotYetCheckpointed)
            .WithSummary("RFC 9162 inclusion proof of an entry in a signed tree (409 until a checkpoint covers it).");
        api.MapGet("/proofs/consistency", GetConsistencyProof).WithName("GetAuditConsistencyProof").ProducesProblems(ProblemTypes.NotFound)
            .WithSummary("RFC 9162 consistency proof that the tree of size to extends the tree of size from.");
        api.MapGet("/export", Export).WithName("ExportAuditLog").ProducesProblems()
            .WithSummary("The whole log up to a signed checkpoint as an NDJSON bundle that infobank audit verify checks offline.")
            .Produces(StatusCodes.Status200OK, contentType: "application/x-ndjson");
        api.MapGet("/signer", GetSigner).WithName("GetAuditSigner").ProducesProblems()
            .WithSummary("The checkpoint signer's own record: the last checkpoint it signed, how it started, and whether it is halted and why.");
    }

    /// <summary>
    /// The signer's state from its file beside the signing key, not from the database, so an auditor
    /// can compare it with the checkpoints the database serves and see a halt and its reason.
    /// </summary>
    public static async Task<Ok<SignerStatus>> GetSigner(ICheckpointSigner signer, CancellationToken cancellationToken) =>
        TypedResults.Ok(await signer.StatusAsync(cancellationToken));

    public static async Task<Ok<AuditKeysResponse>> GetKeys(ICheckpointSigner signer, CancellationToken cancellationToken) =>
        TypedResults.Ok(new AuditKeysResponse((await signer.PublishedKeysAsync(cancellationToken)).Select(k => new AuditKeyView(
            k.Name, k.KeyId.ToString("x8", System.Globalization.CultureInfo.InvariantCulture), k.VerifierKey,
            Core.Crypto.Ed25519Key.Thumbprint(k.PublicKey), Core.Crypto.Base64Url.Encode(k.PublicKey))).ToList()));

    /// <summary>Entries in sequence order from <paramref name="from"/> (to <paramref name="to"/>, exclusive), a page at a time.</summary>
    public static async Task<Results<Ok<Page<AuditEntryView>>, ProblemHttpResult>> GetEntries(
        HttpContext context, AuditStore store, long? from, long? to, int? limit, string? cursor, string? kind, string? subject, CancellationToken cancellationToken)
    {
        if (!Paging.TryRead<SequenceCursor>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var errors = new Dictionary<string, string[]>();
        if (from < 0)
        {
            errors["from"] = ["from is a sequence number, 0 or more."];
        }
        if (to < 0 || (to is not null && to < (from ?? 0)))
        {
            errors["to"] = ["to is an exclusive sequence number not below from."];
        }
        if (errors.Count > 0)
        {
            return Refusal.Of(ProblemTypes.InvalidParameter, errors).ToResult();
        }
        var start = after is null ? from ?? 0 : Math.Max(from ?? 0, after.After + 1);
        var (page, more) = Paging.Split(await store.EntriesAsync(start, to ?? long.MaxValue, size + 1, kind, subject, cancellationToken), size);
        return Paging.Result(context, page.Select(AuditEntryView.From).ToList(), more ? new SequenceCursor(page[^1].Sequence) : null);
    }

    public static async Task<Results<Ok<AuditEntryView>, ProblemHttpResult>> GetEntry(
        AuditStore store, long sequence, CancellationToken cancellationToken) =>
        await store.EntryAsync(sequence, cancellationToken) is { } row
            ? TypedResults.Ok(AuditEntryView.From(row))
            : Problem($"The audit log has no entry {sequence}.");

    /// <summary>Signed checkpoints from tree size <paramref name="from"/>, oldest first, a page at a time.</summary>
    public static async Task<Results<Ok<Page<CheckpointView>>, ProblemHttpResult>> GetCheckpoints(
        HttpContext context, AuditStore store, long? from, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        if (!Paging.TryRead<SequenceCursor>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        if (from < 0)
        {
            return ProblemTypes.InvalidParameter.Validation(
                new Dictionary<string, string[]> { ["from"] = ["from is a tree size, 0 or more."] }, "from is a tree size, 0 or more.");
        }
        var start = after is null ? from ?? 0 : Math.Max(from ?? 0, after.After + 1);
        var (page, more) = Paging.Split(await store.CheckpointsAsync(start, long.MaxValue, size + 1, cancellationToken), size);
        return Paging.Result(context, page.Select(CheckpointView.From).ToList(), more ? new SequenceCursor(page[^1].TreeSize) : null);
    }

    public static async Task<Results<Ok<CheckpointView>, ProblemHttpResult>> GetLatestCheckpoint(
        AuditStore store, CancellationToken cancellationToken) =>
        await store.LatestCheckpointAsync(cancellationToken) is { } row
            ? TypedResults.Ok(CheckpointView.From(row))
            : Problem("No checkpoint has been signed yet; the log may be empty.");

    public static async Task<Results<Ok<InclusionProofView>, ProblemHttpResult>> GetInclusionProof(
        AuditStore store, AuditProofs proofs, long? sequence, long? size, CancellationToken cancellationToken)
    {
        if (sequence is not { } seq || seq < 0 || size <= 0)
        {
            return Refusal.Of(ProblemTypes.InvalidParameter,
                new Dictionary<string, string[]> { ["sequence"] = ["sequence (0 or more) is required; size, when given, is a tree size of 1 or more."] },
                "The inclusion proof query is invalid: sequence (0 or more) is required; size, when given, is a tree size of 1 or more.").ToResult();
        }
        var row = await store.EntryAsync(seq, cancellationToken);
        if (row is null)
        {
            return Problem($"The audit log has no entry {seq}.");
        }
        CheckpointRow? checkpoint;
        if (size is { } requested)
        {
            checkpoint = await store.CheckpointAsync(requested, cancellationToken);
            if (checkpoint is null)
            {
                return Problem($"No checkpoint was signed at tree size {requested}; list them at /api/v1/audit/checkpoints.");
            }
        }
        else
        {
            checkpoint = await store.LatestCheckpointAsync(cancellationToken);
        }
        if (checkpoint is null || checkpoint.TreeSize <= seq)
        {
            return NotYetSigned($"Entry {seq} is not yet covered by a signed checkpoint; checkpoints are signed every few seconds.");
        }
        var proof = await proofs.InclusionAsync(seq, checkpoint.TreeSize, cancellationToken);
        return TypedResults.Ok(new InclusionProofView(seq, checkpoint.TreeSize, row.LeafHash, checkpoint.RootHash, proof, checkpoint.Note));
    }

    public static async Task<Results<Ok<ResidentProofView>, ProblemHttpResult>> GetMyInclusionProof(
        AuditStore store, AuditProofs proofs, ClaimsPrincipal user, long sequence, CancellationToken cancellationToken)
    {
        // The log names the resident only by their audit pseudonym; they hold none before their first entry.
        var pseudonym = await store.PseudonymOfAsync(user.AccountId(), cancellationToken);
        var row = pseudonym is null ? null : await store.EntryAsync(sequence, cancellationToken);
        // Someone else's entry answers exactly like a missing one, so sequence numbers reveal nothing.
        if (row is null || !Names(row, pseudonym!))
        {
            return Problem($"You have no audit entry {sequence}.");
        }
        var checkpoint = await store.CheckpointCoveringAsync(sequence, cancellationToken);
        var latest = await store.LatestCheckpointAsync(cancellationToken);
        if (checkpoint is null || latest is null)
        {
            return NotYetSigned($"Entry {sequence} is not yet covered by a signed checkpoint; checkpoints are signed every few seconds.");
        }
        // Proven against the latest checkpoint, so it also shows the entry is still there today.
        var proof = await proofs.InclusionAsync(sequence, latest.TreeSize, cancellationToken);
        return TypedResults.Ok(new ResidentProofView(pseudonym!, AuditEntryView.From(row), latest.TreeSize, latest.RootHash, proof, latest.Note, checkpoint.TreeSize));
    }

    /// <summary>Whether the entry is about the resident: they acted, it concerns them, or it provided their data.</summary>
    private static bool Names(AuditRow row, string pseudonym)
    {
        if (row.Actor == $"resident:{pseudonym}" || row.SubjectRef == pseudonym)
        {
            return true;
        }
        if (row.Payload is null)
        {
            return false;
        }
        using var payload = System.Text.Json.JsonDocument.Parse(row.Payload);
        return payload.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
            && payload.RootElement.TryGetProperty("residents", out var residents)
            && residents.ValueKind == System.Text.Json.JsonValueKind.Array
            && residents.EnumerateArray().Any(r => r.ValueKind == System.Text.Json.JsonValueKind.String && r.GetString() == pseudonym);
    }

    public static async Task<Results<Ok<ConsistencyProofView>, ProblemHttpResult>> GetConsistencyProof(
        AuditStore store, AuditProofs proofs, long? from, long? to, CancellationToken cancellationToken)
    {
        if (from is not { } oldSize || to is not { } newSize || oldSize < 1 || newSize < oldSize)
        {
            return Refusal.Of(ProblemTypes.InvalidParameter,
                new Dictionary<string, string[]> { ["from"] = ["from and to are tree sizes with 1 ≤ from ≤ to."] },
                "The consistency proof query is invalid: from and to are tree sizes with 1 ≤ from ≤ to.").ToResult();
        }
        var current = (await store.CurrentFrontierAsync(cancellationToken)).Size;
        if (newSize > current)
        {
            return Problem($"The log holds {current} entries; it has no tree of size {newSize}.");
        }
        var proof = await proofs.ConsistencyAsync(oldSize, newSize, cancellationToken);
        return TypedResults.Ok(new ConsistencyProofView(oldSize, newSize,
            await proofs.RootAsync(oldSize, cancellationToken), await proofs.RootAsync(newSize, cancellationToken), proof));
    }

    public static async Task<Results<PushStreamHttpResult, ProblemHttpResult>> Export(
        AuditExporter exporter, long? upto, CancellationToken cancellationToken)
    {
        var (defaultSize, current) = await exporter.SizesAsync(cancellationToken);
        if (upto is < 0 || upto > current)
        {
            return Refusal.Of(ProblemTypes.InvalidParameter,
                new Dictionary<string, string[]> { ["upto"] = [$"upto is a tree size between 0 and {current}, the entries the log holds."] },
                $"The export range is invalid: upto is a tree size between 0 and {current}, the entries the log holds.").ToResult();
        }
        var size = upto ?? defaultSize;
        return TypedResults.Stream(
            stream => exporter.WriteAsync(stream, size, cancellationToken),
            "application/x-ndjson", $"infobank-audit-{size}.ndjson");
    }

    private static ProblemHttpResult Problem(string detail) => Refusal.Of(ProblemTypes.NotFound, detail).ToResult();

    private static ProblemHttpResult NotYetSigned(string detail) => Refusal.Of(ProblemTypes.NotYetCheckpointed, detail).ToResult();
}

public sealed record AuditKeysResponse(List<AuditKeyView> Keys);

/// <summary>
/// A checkpoint key in signed-note terms: note key name and 4-byte id, the vkey text auditors pin
/// (<c>infobank audit verify --key</c>), and the same key's JWKS id (<c>kid</c> at /api/v1/keys) and raw value.
/// </summary>
public sealed record AuditKeyView(string Name, string KeyId, string VerifierKey, string Kid, string PublicKey);

/// <summary>Where a page of entries (by sequence) or checkpoints (by tree size) stopped.</summary>
public sealed record SequenceCursor(long After);

public sealed record AuditEntryView(
    long Sequence, DateTimeOffset Time, string Kind, string Actor, string? SubjectRef, string? Purpose, Guid? GrantId,
    string? PolicyHash, string? Payload, byte[]? SealedPersonalData, byte[] LeafHash)
{
    public static AuditEntryView From(AuditRow row) => new(row.Sequence, row.Time, row.Kind, row.Actor, row.SubjectRef,
        row.Purpose, row.GrantId, row.PolicyHash, row.Payload, row.Sealed, row.LeafHash);
}

public sealed record CheckpointView(long TreeSize, byte[] RootHash, DateTimeOffset CreatedAt, string KeyName, string Note)
{
    public static CheckpointView From(CheckpointRow row) => new(row.TreeSize, row.RootHash, row.CreatedAt, row.KeyName, row.Note);
}

public sealed record InclusionProofView(long Sequence, long TreeSize, byte[] LeafHash, byte[] RootHash, List<byte[]> Proof, string Checkpoint);

/// <summary>A resident's entry with its inclusion proof in the latest signed checkpoint, and the first checkpoint that covered it.</summary>
/// <param name="Pseudonym">How the log names this resident (their audit pseudonym, destroyed at erasure).</param>
public sealed record ResidentProofView(string Pseudonym, AuditEntryView Entry, long TreeSize, byte[] RootHash, List<byte[]> Proof, string Checkpoint, long FirstCoveredAtSize);

public sealed record ConsistencyProofView(long FromSize, long ToSize, byte[] FromRoot, byte[] ToRoot, List<byte[]> Proof);
