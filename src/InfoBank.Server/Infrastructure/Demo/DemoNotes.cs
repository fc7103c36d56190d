using InfoBank.Server.Infrastructure.Crypto;

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
        using var file = SecretFile.OpenOwnerOnly(Path.GetFullPath(PathFor(configuration)), FileMode.Append);
        using var writer = new StreamWriter(file);
        foreach (var note in context.Notes)
        {
            writer.WriteLine(note);
        }
    }
}
