using System.Net;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Infrastructure;

namespace InfoBank.Server.Tests.Identity;

public sealed class IdentitySmokeTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    [Fact]
    public async Task Operator_signs_in_and_lists_accounts()
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Operator);
        using var http = factory.CreateClientWithToken(token);
        var response = await http.GetAsync("/api/v1/admin/accounts");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Business_gets_a_token_and_is_refused_admin()
    {
        var (_, token) = await factory.ClientTokenAsync(ClientKind.Business);
        using var http = factory.CreateClientWithToken(token);
        var response = await http.GetAsync("/api/v1/admin/accounts");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}
