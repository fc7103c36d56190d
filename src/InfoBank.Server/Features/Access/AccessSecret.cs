using InfoBank.Core.Access;
using InfoBank.Server.Infrastructure.Crypto;

namespace InfoBank.Server.Features.Access;

/// <summary>
/// Loads (or creates, owner-only) the access secret file and derives the pseudonym and cursor keys
/// from it. Replacing the file changes every recipient's pseudonyms and voids open cursors, so it
/// is backed up with the key-ring master key, not with the database.
/// </summary>
public static class AccessSecret
{
    public static AccessKeys LoadOrCreate(string path)
    {
        var secret = SecretFile.ReadOrCreate(path, "access secret");
        return secret.Length >= AccessKeys.MinimumSecretSize
            ? AccessKeys.Derive(secret)
            : throw new InvalidOperationException($"The access secret file {Path.GetFullPath(path)} must hold at least {AccessKeys.MinimumSecretSize} bytes (base64).");
    }
}
