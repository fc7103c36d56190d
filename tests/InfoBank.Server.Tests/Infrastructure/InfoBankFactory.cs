using InfoBank.Server.Infrastructure;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>
/// The real server in-process, on its own SQLite file (deleted afterwards), with an ephemeral
/// DataProtection key ring and no background job server (tests run jobs explicitly).
/// Set <c>INFOBANK_TEST_HTTP_PROVIDER=postgres</c> (or <c>sqlserver</c>) to run the HTTP tests
/// against a fresh database on that server instead (see <see cref="DatabaseFixture"/>).
/// </summary>
public class InfoBankFactory : WebApplicationFactory<Program>
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "infobank-tests", Guid.NewGuid().ToString("N"));
    private readonly DatabaseFixture _database;
    private readonly bool _ownsStorage = true;

    public InfoBankFactory()
    {
        Directory.CreateDirectory(_directory);
        _database = Environment.GetEnvironmentVariable("INFOBANK_TEST_HTTP_PROVIDER")?.ToLowerInvariant() switch
        {
            "postgres" => new PostgresFixture(),
            "sqlserver" => new SqlServerFixture(),
            _ => new SqliteFixture(),
        };
        _database.InitializeAsync().GetAwaiter().GetResult();
        if (_database.SkipReason is not null)
        {
            throw new InvalidOperationException(_database.SkipReason);
        }
    }

    /// <summary>
    /// A second server over the same database and data directory as <paramref name="primary"/>
    /// (another node, or the same node after a restart); the primary keeps and cleans up the storage.
    /// Both need <see cref="UseEphemeralKeyRing"/> off to read each other's tokens and keys.
    /// </summary>
    protected InfoBankFactory(InfoBankFactory primary)
    {
        _directory = primary._directory;
        _database = primary._database;
        _ownsStorage = false;
    }

    public DatabaseProvider Provider => _database.Provider;

    /// <summary>The data directory (INFOBANK_DATA) this server resolves its data paths under.</summary>
    public string DataDirectory => _directory;

    /// <summary>
    /// An in-memory DataProtection key ring per server (the default, fast). Off, the server keeps the
    /// real ring in the database under the master key file, so servers sharing storage share it.
    /// </summary>
    protected virtual bool UseEphemeralKeyRing => true;

    public string ConnectionString => _database.ConnectionString;

    /// <summary>Connections to the server's database, for tests that inspect raw rows.</summary>
    public DbConnectionFactory Connections => _database.Connections;

    /// <summary>Where this server keeps its signing keys (files, outside the database).</summary>
    public string KeyDirectory => Path.Combine(_directory, "keys");

    /// <summary>Extra endpoints a test needs (for example to exercise the shared error handling).</summary>
    protected virtual IEnumerable<IApiModule> ExtraModules => [];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("INFOBANK_DATA", _directory);
        builder.UseSetting("Database:Provider", _database.Provider.ToString());
        builder.UseSetting("Database:ConnectionString", ConnectionString);
        builder.UseSetting("Jobs:RunServer", "false");
        builder.UseSetting("Demo:Seed", "false");
        builder.UseSetting("Signing:KeyDirectory", KeyDirectory);
        builder.UseSetting("Custody:MasterKeyFile", Path.Combine(KeyDirectory, "keyring-master.key"));
        builder.UseSetting("Access:SecretFile", Path.Combine(KeyDirectory, "access.key"));
        // The in-process server speaks plain HTTP to the test client.
        builder.UseSetting("Identity:AllowInsecureHttp", "true");
        // Every client here shares one in-process address; the limits have their own tests.
        builder.UseSetting("Identity:RateLimits:SignInsPerMinute", "1000000");
        builder.UseSetting("Identity:RateLimits:TokenRequestsPerMinute", "1000000");
        builder.UseSetting("Identity:RateLimits:AuditedRefusalsPerMinute", "1000000");
        builder.UseSetting("Demo:NotesFile", Path.Combine(_directory, "demo-credentials.txt"));
        builder.ConfigureTestServices(services =>
        {
            if (UseEphemeralKeyRing)
            {
                services.AddSingleton<IDataProtectionProvider, EphemeralDataProtectionProvider>();
            }
            foreach (var module in ExtraModules)
            {
                services.AddSingleton(module);
            }
        });
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && _ownsStorage)
        {
            _database.DisposeAsync().GetAwaiter().GetResult();
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
