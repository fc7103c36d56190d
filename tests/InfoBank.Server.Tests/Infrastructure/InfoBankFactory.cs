using InfoBank.Server.Infrastructure;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>
/// The real server in-process, on its own SQLite file (deleted afterwards), with an ephemeral
/// DataProtection key ring and no background job server (tests run jobs explicitly).
/// </summary>
public class InfoBankFactory : WebApplicationFactory<Program>
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "infobank-tests", Guid.NewGuid().ToString("N"));

    public InfoBankFactory()
    {
        Directory.CreateDirectory(_directory);
    }

    public string DatabasePath => Path.Combine(_directory, "infobank.db");

    public string ConnectionString => $"Data Source={DatabasePath}";

    /// <summary>Extra endpoints a test needs (for example to exercise the shared error handling).</summary>
    protected virtual IEnumerable<IApiModule> ExtraModules => [];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("Database:Provider", "Sqlite");
        builder.UseSetting("Database:ConnectionString", ConnectionString);
        builder.UseSetting("Jobs:RunServer", "false");
        builder.UseSetting("Demo:Seed", "false");
        builder.UseSetting("Demo:NotesFile", Path.Combine(_directory, "demo-credentials.txt"));
        builder.UseSetting("Audit:CheckpointKeyFile", Path.Combine(_directory, "keys", "checkpoint.key"));
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<IDataProtectionProvider, EphemeralDataProtectionProvider>();
            foreach (var module in ExtraModules)
            {
                services.AddSingleton(module);
            }
        });
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // A file still held open by a finishing background task; the OS temp cleaner gets it.
            }
        }
    }
}
