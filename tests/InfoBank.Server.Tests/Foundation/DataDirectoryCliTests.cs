using System.CommandLine;
using InfoBank.Cli;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// The CLI finds the data the way the server does, and never starts a new, empty bank by accident:
/// run from the repository root it used to create <c>./data/infobank.db</c> and report an empty list.
/// </summary>
public sealed class DataDirectoryCliTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "infobank-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await InfoBankCli.BuildRoot().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    private static string Field(string output, string name) =>
        output.Split('\n').Single(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();

    [Fact]
    public async Task A_command_on_a_database_that_does_not_exist_is_refused_naming_the_path_and_creates_nothing()
    {
        var data = Path.Combine(_root, "data");
        var (exit, output, error) = await RunAsync("--data", data, "admin", "list");

        Assert.Equal(2, exit);
        Assert.Contains($"no database at {Path.Combine(data, "infobank.db")}", error);
        Assert.Contains("INFOBANK_DATA", error);
        Assert.Contains("--data", error);
        Assert.Contains("infobank migrate", error);
        Assert.DoesNotContain("Accounts", output);
        Assert.False(Directory.Exists(data));
    }

    [SkippableFact]
    public async Task Migrate_creates_an_owner_only_database_that_the_other_commands_then_use()
    {
        var data = Path.Combine(_root, "data");
        var (migrated, _, _) = await RunAsync("--data", data, "migrate");
        Assert.Equal(0, migrated);
        var file = Path.Combine(data, "infobank.db");
        Assert.True(File.Exists(file));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        var (listed, output, _) = await RunAsync("--data", data, "admin", "list");
        Assert.Equal(0, listed);
        Assert.Contains("Accounts (0)", output);
    }

    private sealed class RelativeDatabaseFactory : InfoBankFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Database:Provider", "Sqlite");
            builder.UseSetting("Database:ConnectionString", "Data Source=infobank.db");
        }
    }

    [Fact]
    public async Task The_server_and_the_cli_given_the_same_data_directory_work_on_the_same_bank()
    {
        using var server = new RelativeDatabaseFactory();
        _ = server.Services;
        var username = "shared-" + Guid.NewGuid().ToString("N")[..8];

        var (exit, output, error) = await RunAsync("--data", server.DataDirectory, "admin", "add-user", "--role", "resident", "--username", username);
        Assert.True(exit == 0, error);

        var tokens = await server.RunCodeFlowAsync(username, Field(output, "password"), "resident");
        Assert.False(string.IsNullOrEmpty(tokens.AccessToken));
    }
}
