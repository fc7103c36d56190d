using System.Text.Json.Serialization;
using InfoBank.Core.Crypto;
using InfoBank.Server.Infrastructure.Errors;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InfoBank.Server.Infrastructure.Crypto;

/// <summary>A published public key (RFC 7517 / RFC 8037 OKP), plus our <c>purpose</c> and <c>status</c> members.</summary>
public sealed record JsonWebKey(
    [property: JsonPropertyName("kty")] string Kty,
    [property: JsonPropertyName("crv")] string Crv,
    [property: JsonPropertyName("x")] string X,
    [property: JsonPropertyName("kid")] string Kid,
    [property: JsonPropertyName("alg")] string Alg,
    [property: JsonPropertyName("use")] string Use,
    [property: JsonPropertyName("purpose")] string Purpose,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("created")] DateTimeOffset Created,
    [property: JsonPropertyName("retired")] DateTimeOffset? Retired)
{
    public static JsonWebKey From(SigningKey key) => new(
        "OKP", "Ed25519", Base64Url.Encode(key.Key.PublicKey), key.KeyId, CompactJws.Algorithm, "sig",
        key.Purpose, key.IsCurrent ? "current" : "retired", key.CreatedAt, key.RetiredAt);
}

public sealed record JsonWebKeySet([property: JsonPropertyName("keys")] IReadOnlyList<JsonWebKey> Keys);

/// <summary>
/// <c>GET /api/v1/keys</c>: every signing key's public half, current and retired, so receipts and
/// checkpoints signed years ago still verify. Anonymous: verification must not need an account.
/// </summary>
public static class KeysApi
{
    public static void MapKeysApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/api/v1/keys", GetKeys)
            .WithTags("Keys")
            .WithName("GetSigningKeys").ProducesProblems()
            .WithSummary("Public keys (JWKS, OKP/Ed25519) for consent receipts and audit checkpoints, including retired keys.")
            .AllowAnonymous();
    }

    public static async Task<Ok<JsonWebKeySet>> GetKeys(SigningKeyStore store, HttpContext context, CancellationToken cancellationToken)
    {
        // Make sure each purpose has a key to publish before anyone needs to verify with it.
        foreach (var purpose in SigningKeyPurposes.All)
        {
            await store.GetCurrentAsync(purpose, cancellationToken);
        }
        var keys = await store.ListAsync(cancellationToken);
        context.Response.Headers.CacheControl = "public, max-age=300";
        return TypedResults.Ok(new JsonWebKeySet(keys.Select(JsonWebKey.From).ToList()));
    }
}

public static class SigningSetup
{
    /// <summary>The key store and the JWKS endpoint; shared with the CLI, which rotates keys (the endpoint is inert there).</summary>
    public static IServiceCollection AddSigningKeys(this IServiceCollection services)
    {
        services.AddOptions<SigningOptions>().BindConfiguration(SigningOptions.Section);
        services.AddSingleton<SigningKeyStore>();
        return services;
    }
}
