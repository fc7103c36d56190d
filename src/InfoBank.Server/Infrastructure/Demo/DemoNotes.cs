namespace InfoBank.Server.Infrastructure.Demo;

/// <summary>
/// Demo credentials are generated at first run and never logged: they go to a file beside the
/// database, readable only by the owner, which scripts/run.sh prints for the person who started it.
/// </summary>
public static class DemoNotes
{
    public static string PathFor(IConfiguration configuration) =>
        configuration["Demo:NotesFile"] ?? Path.Combine("data", "demo-credentials.txt");

    public static void Write(IConfiguration configuration, DemoSeedContext context)
    {
        if (context.Notes.Count == 0)
        {
            return;
        }
        var path = PathFor(configuration);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        File.AppendAllLines(path, context.Notes);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
