using InfoBank.Server.Infrastructure.Demo;
using Microsoft.Extensions.Configuration;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>The demo credentials file holds passwords and client secrets: owner-only from its first byte.</summary>
public sealed class DemoNotesTests
{
    [Fact]
    public void Credentials_go_to_an_owner_only_file_in_an_owner_only_folder_and_later_runs_append()
    {
        var folder = Path.Combine(Path.GetTempPath(), "infobank-tests", Guid.NewGuid().ToString("N"), "data");
        var path = Path.Combine(folder, "demo-credentials.txt");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Demo:NotesFile"] = path }).Build();
        try
        {
            var first = new DemoSeedContext();
            first.Notes.Add("resident username a password b");
            DemoNotes.Write(configuration, first);
            var second = new DemoSeedContext();
            second.Notes.Add("business client_id c client_secret d");
            DemoNotes.Write(configuration, second);

            Assert.Equal(["resident username a password b", "business client_id c client_secret d"], File.ReadAllLines(path));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
            }
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(folder)!, recursive: true);
        }
    }
}
