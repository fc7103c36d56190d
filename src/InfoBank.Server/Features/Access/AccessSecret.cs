using System.Security.Cryptography;
using System.Text;
using InfoBank.Core.Access;

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
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            var directory = Path.GetDirectoryName(full)!;
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }
                using var stream = new FileStream(full, options);
                stream.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))));
                stream.Flush(flushToDisk: true);
            }
            catch (IOException) when (File.Exists(full))
            {
                // Another process created it first; use theirs.
            }
        }
        byte[] secret;
        try
        {
            secret = Convert.FromBase64String(File.ReadAllText(full).Trim());
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"The access secret file {full} is not base64.");
        }
        return secret.Length >= AccessKeys.MinimumSecretSize
            ? AccessKeys.Derive(secret)
            : throw new InvalidOperationException($"The access secret file {full} must hold at least {AccessKeys.MinimumSecretSize} bytes (base64).");
    }
}
