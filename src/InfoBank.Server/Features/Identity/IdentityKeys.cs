using System.Security.Cryptography;
using Dapper;
using InfoBank.Core.Crypto;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// The token server's RSA keys. On first use a 2048-bit signing key (RS256) and a 2048-bit
/// encryption key (RSA-OAEP + A256CBC-HS512) are generated and stored in <c>identity_keys</c>,
/// the PKCS#8 private key protected with DataProtection (whose key ring is in the database too).
/// Every node of a deployment then loads the same keys, and tokens survive restarts. Key ids are
/// RFC 7638 thumbprints. If two nodes race on first start both keys are kept and both are valid.
/// Development certificates are never used.
/// </summary>
public sealed partial class IdentityKeys(DbConnectionFactory db, IDataProtectionProvider protection, TimeProvider time, ILogger<IdentityKeys> logger)
    : IConfigureOptions<OpenIddictServerOptions>
{
    public const string Signing = "signing";
    public const string Encryption = "encryption";

    private const string SelectSql = "SELECT key_id, key_use, protected_key FROM identity_keys ORDER BY created_at DESC, key_id";

    private IDataProtector Protector => protection.CreateProtector("InfoBank.Identity.TokenServerKeys.v1");

    public void Configure(OpenIddictServerOptions options)
    {
        var keys = LoadOrCreate();
        foreach (var key in keys.Where(k => k.Use == Signing))
        {
            options.SigningCredentials.Add(new SigningCredentials(key.Key, SecurityAlgorithms.RsaSha256));
        }
        foreach (var key in keys.Where(k => k.Use == Encryption))
        {
            options.EncryptionCredentials.Add(new EncryptingCredentials(key.Key, SecurityAlgorithms.RsaOAEP, SecurityAlgorithms.Aes256CbcHmacSha512));
        }
    }

    internal sealed record LoadedKey(string Use, RsaSecurityKey Key);

    internal IReadOnlyList<LoadedKey> LoadOrCreate()
    {
        using var connection = db.Open();
        var rows = connection.Query<(string KeyId, string KeyUse, string ProtectedKey)>(SelectSql).ToList();
        foreach (var use in new[] { Signing, Encryption })
        {
            if (rows.Any(r => r.KeyUse == use))
            {
                continue;
            }
            using var rsa = RSA.Create(2048);
            var keyId = Thumbprint(rsa);
            var insert = db.Dialect.InsertIgnoringDuplicates("identity_keys", ["key_id", "key_use", "protected_key", "created_at"], ["key_id"]);
            connection.Execute(insert, new
            {
                key_id = keyId,
                key_use = use,
                protected_key = Convert.ToBase64String(Protector.Protect(rsa.ExportPkcs8PrivateKey())),
                created_at = time.GetUtcNow(),
            });
            LogKeyCreated(logger, use, keyId);
        }
        rows = connection.Query<(string KeyId, string KeyUse, string ProtectedKey)>(SelectSql).ToList();
        return rows.Select(r =>
        {
            var rsa = RSA.Create();
            rsa.ImportPkcs8PrivateKey(Protector.Unprotect(Convert.FromBase64String(r.ProtectedKey)), out _);
            return new LoadedKey(r.KeyUse, new RsaSecurityKey(rsa) { KeyId = r.KeyId });
        }).ToList();
    }

    private static string Thumbprint(RSA rsa) =>
        Base64Url.Encode(new RsaSecurityKey(rsa.ExportParameters(false)).ComputeJwkThumbprint());

    [LoggerMessage(Level = LogLevel.Information, Message = "Generated the token server's {Use} key {KeyId}")]
    private static partial void LogKeyCreated(ILogger logger, string use, string keyId);
}
