using System.Diagnostics;

namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>
/// Makes a file or folder refuse writes for this process, as the operating system would after a
/// chmod or a read-only remount. Root ignores file modes, so as root (the CI machine) it sets the
/// immutable attribute (chattr +i), which binds root too; otherwise it clears the write bits.
/// Skips the test where neither is possible. Dispose puts the path back as it was.
/// </summary>
public sealed class ReadOnlyPath : IDisposable
{
    private readonly string _path;
    private readonly UnixFileMode? _mode;

    private ReadOnlyPath(string path, UnixFileMode? mode)
    {
        _path = path;
        _mode = mode;
    }

    public static ReadOnlyPath Make(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new SkipException("read-only paths are made with Unix modes or attributes here");
        }
        if (!Environment.IsPrivilegedProcess)
        {
            var mode = File.GetUnixFileMode(path);
            File.SetUnixFileMode(path, mode & ~(UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite));
            return new ReadOnlyPath(path, mode);
        }
        Skip.IfNot(Chattr("+i", path), "running as root and chattr +i is not available here, so nothing can make a path read-only");
        return new ReadOnlyPath(path, null);
    }

    public void Dispose()
    {
        if (_mode is { } mode && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_path, mode);
        }
        else
        {
            Chattr("-i", _path);
        }
    }

    private static bool Chattr(string flag, string path)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("chattr", [flag, path]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
