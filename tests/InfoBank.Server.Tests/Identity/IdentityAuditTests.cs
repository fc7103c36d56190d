using System.Net;
using Dapper;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Identity;

/// <summary>Sign-ins, issued tokens and refusals land in the audit log, without names or secrets.</summary>
public sealed class IdentityAuditTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    private sealed record Entry(string Kind, string Actor, string? Subject_Ref, string? Payload);

    private async Task<List<Entry>> EntriesAsync()
    {
        await using var connection = await factory.Connections.OpenAsync();
        return (await connection.QueryAsync<Entry>("SELECT kind, actor, subject_ref, payload FROM audit_log ORDER BY seq")).ToList();
    }

    [Fact]
    public async Task Sign_in_and_token_issuance_are_audited_by_reference()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Resident);
        await factory.RunCodeFlowAsync(account.Account.Username, TestTokens.TestPassword, "resident");

        var entries = await EntriesAsync();
        // By the resident's audit pseudonym, never by their id.
        var pseudonym = await factory.Services.GetRequiredService<InfoBank.Server.Features.Audit.AuditStore>().PseudonymOfAsync(account.Account.Id);
        var actor = $"resident:{pseudonym}";
        Assert.Contains(entries, e => e.Kind == "signin.succeeded" && e.Actor == actor && e.Subject_Ref == pseudonym);
        Assert.DoesNotContain(entries, e => e.Actor.Contains(account.Account.Id.ToString()) || (e.Subject_Ref ?? "").Contains(account.Account.Id.ToString())
            || (e.Payload ?? "").Contains(account.Account.Id.ToString()));
        Assert.Contains(entries, e => e.Kind == "token.issued" && e.Actor == actor && e.Payload!.Contains("authorization_code"));
        Assert.DoesNotContain(entries, e => (e.Payload ?? "").Contains(account.Account.Username) || e.Actor.Contains(account.Account.Username));
    }

    [Fact]
    public async Task Refused_requests_are_audited()
    {
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        await factory.RequestTokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = client.ClientId,
            ["client_secret"] = "wrong-" + client.ClientSecret,
        });
        var token = await factory.ClientCredentialsTokenAsync(client.ClientId, client.ClientSecret);
        using var http = factory.CreateClientWithToken(token);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync("/api/v1/admin/accounts")).StatusCode);

        var entries = await EntriesAsync();
        var actor = $"client:{client.ClientId}";
        // The refused token request names the client it claimed to be, but not as the actor: nobody authenticated.
        Assert.Contains(entries, e => e.Kind == "signin.failed" && e.Actor == "anonymous" && e.Payload!.Contains("invalid_client")
            && e.Payload.Contains(client.ClientId));
        Assert.Contains(entries, e => e.Kind == "token.issued" && e.Actor == actor);
        Assert.Contains(entries, e => e.Kind == "access.denied" && e.Actor == actor && e.Payload!.Contains("/api/v1/admin/accounts") && e.Payload.Contains("403"));
        Assert.DoesNotContain(entries, e => (e.Payload ?? "").Contains(client.ClientSecret));
    }

    [Fact]
    public async Task Anonymous_requests_without_a_token_are_not_audited()
    {
        var before = (await EntriesAsync()).Count(e => e.Kind == "access.denied");
        using var http = factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/v1/admin/clients")).StatusCode);
        Assert.Equal(before, (await EntriesAsync()).Count(e => e.Kind == "access.denied"));
    }
}
