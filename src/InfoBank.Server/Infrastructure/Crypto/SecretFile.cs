using System.Security.Cryptography;
using System.Text;

namespace InfoBank.Server.Infrastructure.Crypto;

/// <summary>
/// A random secret kept in a file outside the database (base64, mode 0600 in a 0700 folder),
/// created on first use. Used for the key-ring master key and the access secret: secrets whose
/// whole point is that a copy of the database does not carry them.
/// </summary>
public static class SecretFile
{
    /// <summary>Reads the secret at <paramref name="path"/>, creating a random 32-byte one if the file does not exist.</summary>
    /// <param name="what">How to name the file in error messages (for example "key-ring master key").</param>
    public static byte[] ReadOrCreate(string path, string what)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            Create(full);
        }
        try
        {
            return Convert.FromBase64String(File.ReadAllText(full).Trim());
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"The {what} file {full} is not base64.");
        }
    }

    private static void Create(string full)
    {
        try
        {
            // Created owner-only before the secret is written into it.
            using var stream = OpenOwnerOnly(full, FileMode.CreateNew);
            stream.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))));
            stream.Flush(flushToDisk: true);
        }
        catch (IOException) when (File.Exists(full))
        {
            // Another process created it first; use theirs.
        }
    }

    /// <summary>
    /// Opens <paramref name="full"/> for writing so that, when it is created, it is readable by the
    /// owner only from its first byte (mode 0600, in a folder created 0700), never chmod-ed afterwards.
    /// </summary>
    public static FileStream OpenOwnerOnly(string full, FileMode mode)
    {
        var directory = Path.GetDirectoryName(full)!;
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write };
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        return new FileStream(full, options);
    }
}
