using InfoBank.Server.Infrastructure.Crypto;
using InfoBank.Server.Infrastructure.Data;

namespace InfoBank.Server.Infrastructure.Demo;

/// <summary>
/// Demo credentials are generated at first run and never logged: they go to a file in the data
/// directory, readable only by the owner, which scripts/run.sh prints for the person who started it.
/// </summary>
public static class DemoNotes
{
    /// <summary><c>Demo:NotesFile</c>, under the data directory when relative.</summary>
    public static string PathFor(IConfiguration configuration)
    {
        var configured = configuration["Demo:NotesFile"];
        var file = string.IsNullOrWhiteSpace(configured) ? DataDirectorySetup.DefaultDemoNotesFile : configured;
        return Path.IsPathFullyQualified(file) ? Path.GetFullPath(file) : DataDirectory.FromConfiguration(configuration).Resolve(file);
    }

    public static void Write(IConfiguration configuration, DemoSeedContext context)
    {
        if (context.Notes.Count == 0)
        {
            return;
        }
        using var file = SecretFile.OpenOwnerOnly(PathFor(configuration), FileMode.Append);
        using var writer = new StreamWriter(file);
        foreach (var note in context.Notes)
        {
            writer.WriteLine(note);
        }
    }
}
