using System.CommandLine;
using System.Net;
using InfoBank.Cli;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;

namespace InfoBank.Server.Tests.Identity;

/// <summary>The CLI against the same database file the in-process server uses.</summary>
public sealed class AdminCliTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    private async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        _ = factory.Services; // starts the server, so the database exists and is migrated
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await InfoBankCli.BuildRoot()
            .Parse(["--provider", factory.Provider.ToString(), "--connection-string", factory.ConnectionString, .. args])
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    private static string Field(string output, string name) =>
        output.Split('\n').Single(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();

    [Fact]
    public async Task Added_business_client_gets_a_token_with_the_printed_secret()
    {
        var (exit, output, _) = await RunAsync("admin", "add-client", "--kind", "business", "--name", "Sapporo fitness club");
        Assert.Equal(0, exit);
        var token = await factory.ClientCredentialsTokenAsync(Field(output, "client_id"), Field(output, "client_secret"));
        Assert.False(string.IsNullOrEmpty(token));
    }

    [Fact]
    public async Task Added_user_signs_in_with_the_printed_password()
    {
        var username = "cli-" + Guid.NewGuid().ToString("N")[..8];
        var (exit, output, _) = await RunAsync("admin", "add-user", "--role", "committee", "--committee-role", "chair", "--username", username, "--display-name", "Chair");
        Assert.Equal(0, exit);
        var tokens = await factory.RunCodeFlowAsync(username, Field(output, "password"), "committee");
        Assert.False(string.IsNullOrEmpty(tokens.AccessToken));

        var (_, list, _) = await RunAsync("admin", "list");
        Assert.Contains(username, list);
        Assert.Contains("committee/chair", list);
        Assert.DoesNotContain(Field(output, "password"), list);
    }

    [Fact]
    public async Task Added_people_app_can_start_the_code_flow()
    {
        var (exit, _, _) = await RunAsync("admin", "add-client", "--kind", "app", "--name", "Portal", "--client-id", "cli-portal", "--redirect-uri", "http://localhost/cb");
        Assert.Equal(0, exit);
        using var http = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var (_, challenge) = TestTokens.NewPkce();
        var response = await http.GetAsync(TestTokens.AuthorizeUrl(challenge, "resident", "s", redirectUri: "http://localhost/cb", clientId: "cli-portal"));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Contains("/signin", response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Committee_user_without_a_committee_role_is_refused_with_a_reason()
    {
        var (exit, output, error) = await RunAsync("admin", "add-user", "--role", "committee", "--username", "no-role-" + Guid.NewGuid().ToString("N")[..6]);
        Assert.NotEqual(0, exit);
        Assert.Contains("committee role", error);
        Assert.DoesNotContain("password", output);
    }

    [Fact]
    public async Task Duplicate_username_ignoring_case_is_refused()
    {
        var username = "dup-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, (await RunAsync("admin", "add-user", "--role", "resident", "--username", username)).Exit);
        var (exit, _, error) = await RunAsync("admin", "add-user", "--role", "resident", "--username", username.ToUpperInvariant());
        Assert.Equal(2, exit);
        Assert.Contains("already taken", error);
    }

    [Fact]
    public async Task Unknown_kind_is_refused_by_the_parser()
    {
        var (exit, _, error) = await RunAsync("admin", "add-client", "--kind", "bank", "--name", "x");
        Assert.NotEqual(0, exit);
        Assert.Contains("bank", error);
    }
}
