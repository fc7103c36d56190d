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
    /// Creates <paramref name="full"/> empty and owner-only (mode 0600, in a folder created 0700)
    /// unless it exists. Returns whether this call created it.
    /// </summary>
    public static bool CreateEmptyOwnerOnly(string full)
    {
        if (File.Exists(full))
        {
            return false;
        }
        try
        {
            using var stream = OpenOwnerOnly(full, FileMode.CreateNew);
            stream.Flush(flushToDisk: true);
            return true;
        }
        catch (IOException) when (File.Exists(full))
        {
            // Another process created it first.
            return false;
        }
    }

    /// <summary>
    /// Takes group and other permissions off an existing file (a database created before files were
    /// made owner-only, or copied in with a wide mode). Returns the mode it had when it changed it, or
    /// null when it was owner-only already, does not exist, or this is Windows (ACLs, not modes).
    /// </summary>
    public static UnixFileMode? TightenToOwnerOnly(string full)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(full))
        {
            return null;
        }
        const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        var mode = File.GetUnixFileMode(full);
        if ((mode & others) == 0)
        {
            return null;
        }
        File.SetUnixFileMode(full, mode & ~others);
        return mode;
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
