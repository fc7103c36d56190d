using Dapper;
using InfoBank.Server.Features.Access;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Crypto;
using InfoBank.Server.Infrastructure.Data;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>Every data path resolves under one data directory, found the same way by the server and the CLI.</summary>
public sealed class DataDirectoryResolutionTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "infobank-tests", Guid.NewGuid().ToString("N"), "data");

    public void Dispose()
    {
        if (Directory.Exists(Path.GetDirectoryName(_directory)))
        {
            Directory.Delete(Path.GetDirectoryName(_directory)!, recursive: true);
        }
    }

    private ServiceProvider Services(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddInfoBankCore();
        services.AddOptions<AccessOptions>().BindConfiguration(AccessOptions.Section);
        return services.BuildServiceProvider();
    }

    [Fact]
    public void Relative_settings_resolve_under_the_data_directory_and_absolute_ones_are_kept()
    {
        var absolute = Path.Combine(Path.GetTempPath(), "elsewhere", "access.key");
        using var services = Services(new()
        {
            [DataDirectory.Variable] = _directory,
            ["Signing:KeyDirectory"] = "signing",
            ["Access:SecretFile"] = absolute,
        });

        Assert.Equal(Path.Combine(_directory, "infobank.db"), DbConnectionFactory.SqliteFileOf(services.GetRequiredService<IOptions<DatabaseOptions>>().Value));
        Assert.Equal(Path.Combine(_directory, "signing"), services.GetRequiredService<IOptions<SigningOptions>>().Value.KeyDirectory);
        Assert.Equal(Path.Combine(_directory, "keys", "keyring-master.key"), services.GetRequiredService<IOptions<CustodyOptions>>().Value.MasterKeyFile);
        Assert.Equal(absolute, services.GetRequiredService<IOptions<AccessOptions>>().Value.SecretFile);
        Assert.False(services.GetRequiredService<DataDirectory>().IsDefault);
        // Resolving paths creates nothing; the server's start-up check or `infobank migrate` does.
        Assert.False(Directory.Exists(_directory));
    }

    [Fact]
    public void Default_paths_of_the_features_land_in_the_data_directory_not_in_a_nested_data_folder()
    {
        using var services = Services(new() { [DataDirectory.Variable] = _directory });
        Assert.Equal(Path.Combine(_directory, "keys"), services.GetRequiredService<IOptions<SigningOptions>>().Value.KeyDirectory);
        Assert.Equal(Path.Combine(_directory, "keys", "access.key"), services.GetRequiredService<IOptions<AccessOptions>>().Value.SecretFile);
        Assert.Equal(Path.Combine(_directory, "keys", "keyring-master.key"), services.GetRequiredService<IOptions<CustodyOptions>>().Value.MasterKeyFile);
    }

    [Theory]
    [InlineData("Data Source=:memory:")]
    [InlineData("Data Source=shared;Mode=Memory;Cache=Shared")]
    public void In_memory_sqlite_is_not_a_file(string connectionString)
    {
        using var services = Services(new() { [DataDirectory.Variable] = _directory, ["Database:ConnectionString"] = connectionString });
        Assert.Null(DbConnectionFactory.SqliteFileOf(services.GetRequiredService<IOptions<DatabaseOptions>>().Value));
    }

    [Fact]
    public async Task Connections_never_create_a_missing_database_file_they_report_it_as_storage_unavailable()
    {
        // A volume lost under a running server: a new empty database there would hide it behind "no such table".
        var file = Path.Combine(_directory, "gone.db");
        var connections = new DbConnectionFactory(Options.Create(new DatabaseOptions { ConnectionString = $"Data Source={file}" }));
        var exception = await Assert.ThrowsAsync<SqliteException>(() => connections.OpenAsync());
        Assert.Equal("SQLITE_CANTOPEN", StorageFailures.Classify(exception)?.Code);
        Assert.False(File.Exists(file));
    }

    [Fact]
    public void Server_database_connection_strings_are_left_alone()
    {
        const string postgres = "Host=db.example;Database=infobank;Username=infobank";
        using var services = Services(new() { [DataDirectory.Variable] = _directory, ["Database:Provider"] = "Postgres", ["Database:ConnectionString"] = postgres });
        Assert.Equal(postgres, services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString);
    }

    [Fact]
    public void Without_data_or_INFOBANK_DATA_the_default_is_the_per_user_folder_not_the_working_folder()
    {
        var data = DataDirectory.FromConfiguration(new ConfigurationBuilder().Build());
        Assert.True(data.IsDefault);
        Assert.Equal(DataDirectory.DefaultPath(), data.Path);
        Assert.NotEqual(Path.GetFullPath("data"), data.Path);
        Assert.Contains(DataDirectory.Variable, data.Origin);
    }

    [Theory]
    [InlineData(new[] { "--urls", "http://127.0.0.1:1", "--data", "/from/args" }, "/from/args")]
    [InlineData(new[] { "--data=/from/args" }, "/from/args")]
    [InlineData(new[] { "--urls", "http://127.0.0.1:1" }, "/from/env")]
    public void Data_on_the_command_line_wins_over_INFOBANK_DATA(string[] args, string expected)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [DataDirectory.Variable] = "/from/env" })
            .AddDataDirectoryArgument(args)
            .Build();
        Assert.Equal(Path.GetFullPath(expected), DataDirectory.FromConfiguration(configuration).Path);
    }

    [Fact]
    public void Settings_files_come_from_the_application_folder_whatever_the_content_root()
    {
        var elsewhere = Directory.CreateDirectory(_directory).FullName;
        var configuration = new ConfigurationManager();
        configuration.SetBasePath(elsewhere).AddJsonFile("appsettings.json", optional: true).AddJsonFile("appsettings.Production.json", optional: true);
        Assert.Null(configuration["Logging:LogLevel:Microsoft.EntityFrameworkCore"]);

        configuration.UseApplicationFolderSettings("Production");
        Assert.Equal("Warning", configuration["Logging:LogLevel:Microsoft.EntityFrameworkCore"]);
        Assert.Equal("Data Source=infobank.db", configuration["Database:ConnectionString"]);
    }
}

/// <summary>The server started for real: what it creates, what it tightens, and when it refuses to start.</summary>
public sealed class DataDirectoryServerTests
{
    private static readonly UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The usual test server with extra settings (later settings win).</summary>
    private sealed class Factory(Dictionary<string, string?> settings, Action<IWebHostBuilder>? configure = null) : InfoBankFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
            configure?.Invoke(builder);
        }
    }

    private static Dictionary<string, string?> Sqlite(string connectionString) => new()
    {
        ["Database:Provider"] = "Sqlite",
        ["Database:ConnectionString"] = connectionString,
    };

    private static string StartupFailure(InfoBankFactory factory)
    {
        var exception = Record.Exception(() => factory.Services);
        Assert.NotNull(exception);
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e.Message.StartsWith("InfoBank cannot start", StringComparison.Ordinal))
            {
                return e.Message;
            }
        }
        throw new Xunit.Sdk.XunitException($"Start-up failed for another reason: {exception}");
    }

    [SkippableFact]
    public async Task A_new_database_and_the_keys_are_created_owner_only_under_the_data_directory()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new SkipException("file modes are Unix's");
        }
        using var factory = new Factory(new(Sqlite("Data Source=infobank.db"))
        {
            ["Signing:KeyDirectory"] = "signing",
            ["Access:SecretFile"] = "secrets/access.key",
        });
        _ = factory.Services;
        var file = Path.Combine(factory.DataDirectory, "infobank.db");
        Assert.True(File.Exists(file));

        // A write through the server's own connections, so the -wal and -shm files exist.
        await factory.Services.GetRequiredService<SigningKeyStore>().GetCurrentAsync(SigningKeyPurposes.Receipt);
        factory.Services.GetRequiredService<InfoBank.Core.Access.AccessKeys>();
        await using (var connection = await factory.Services.GetRequiredService<DbConnectionFactory>().OpenAsync())
        {
            await connection.ExecuteAsync("UPDATE health_probe SET probes = probes + 1");
            foreach (var created in new[] { file, file + "-wal", file + "-shm" })
            {
                Assert.True(File.Exists(created), created);
                Assert.Equal(OwnerOnly, File.GetUnixFileMode(created));
            }
        }
        Assert.Single(Directory.GetFiles(Path.Combine(factory.DataDirectory, "signing")));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(factory.DataDirectory, "secrets", "access.key")));
    }

    [SkippableFact]
    public void An_existing_database_readable_by_others_is_made_owner_only_at_start_up()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new SkipException("file modes are Unix's");
        }
        using var factory = new Factory(Sqlite("Data Source=old.db"));
        var file = Path.Combine(factory.DataDirectory, "old.db");
        using (var connection = new SqliteConnection($"Data Source={file};Pooling=False"))
        {
            // As SQLite creates it by itself: 0644 under the usual umask.
            connection.Open();
            connection.Execute("CREATE TABLE t (x INTEGER)");
        }
        File.SetUnixFileMode(file, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        _ = factory.Services;
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(file));
    }

    [Fact]
    public void A_missing_database_without_migrate_on_start_is_refused_naming_the_path()
    {
        using var factory = new Factory(new(Sqlite("Data Source=missing.db")) { ["Database:MigrateOnStart"] = "false" });
        var message = StartupFailure(factory);
        Assert.Contains(Path.Combine(factory.DataDirectory, "missing.db"), message);
        Assert.Contains("infobank migrate", message);
        Assert.False(File.Exists(Path.Combine(factory.DataDirectory, "missing.db")));
    }

    [Fact]
    public void A_read_only_connection_string_is_refused()
    {
        using var database = new MigratedSqlite();
        using var factory = new Factory(Sqlite($"Data Source={database.File};Mode=ReadOnly"));
        Assert.Contains("Mode=ReadOnly", StartupFailure(factory));
    }

    [SkippableFact]
    public void A_read_only_database_file_is_refused()
    {
        using var database = new MigratedSqlite();
        using var factory = new Factory(Sqlite($"Data Source={database.File}"));
        using (ReadOnlyPath.Make(database.File))
        {
            var message = StartupFailure(factory);
            Assert.Contains(database.File, message);
            Assert.Contains("read-only", message);
        }
    }

    [SkippableFact]
    public void A_read_only_data_directory_is_refused()
    {
        using var factory = new Factory([]);
        using (ReadOnlyPath.Make(factory.DataDirectory))
        {
            var message = StartupFailure(factory);
            Assert.Contains(factory.DataDirectory, message);
            Assert.Contains("not writable", message);
            Assert.Contains(DataDirectory.Variable, message);
        }
    }

    [Fact]
    public void The_server_reads_its_settings_with_the_content_root_elsewhere()
    {
        var elsewhere = Directory.CreateTempSubdirectory("infobank-content-root-");
        try
        {
            using var factory = new Factory([], builder => builder.UseContentRoot(elsewhere.FullName));
            var configuration = factory.Services.GetRequiredService<IConfiguration>();
            Assert.Equal(elsewhere.FullName, factory.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostEnvironment>().ContentRootPath.TrimEnd('/'));
            // Without appsettings.json every EF Core command was logged at Information.
            Assert.Equal("Warning", configuration["Logging:LogLevel:Microsoft.EntityFrameworkCore"]);
        }
        finally
        {
            elsewhere.Delete(recursive: true);
        }
    }

    /// <summary>A migrated SQLite file outside any data directory, its pooled connections closed.</summary>
    private sealed class MigratedSqlite : IDisposable
    {
        public MigratedSqlite()
        {
            SqliteTypeHandlers.Register();
            new Migrator(Options.Create(new DatabaseOptions { ConnectionString = $"Data Source={File}" }), NullLogger<Migrator>.Instance).Migrate();
            SqliteConnection.ClearAllPools();
        }

        public string File { get; } = Path.Combine(Path.GetTempPath(), $"infobank-test-{Guid.NewGuid():N}.db");

        public void Dispose()
        {
            SqliteConnection.ClearAllPools();
            foreach (var file in new[] { File, File + "-wal", File + "-shm" })
            {
                System.IO.File.Delete(file);
            }
        }
    }
}
