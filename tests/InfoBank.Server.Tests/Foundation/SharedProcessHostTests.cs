using System.Net;
using System.Net.Http.Json;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Infrastructure;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// Hosts that share a process (this suite; a host rebuilt in place) must not break each other
/// through Hangfire's process-global settings.
/// </summary>
public sealed class SharedProcessHostTests
{
    [Fact]
    public async Task Erasure_still_answers_after_another_host_in_the_process_was_disposed()
    {
        using var survivor = new InfoBankFactory();
        var (resident, token) = await survivor.SignInAsync(AccountKind.Resident);
        using var http = survivor.CreateClientWithToken(token);
        var enrolled = await http.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = CustodyTerms.Current.Version,
            termsHash = CustodyTerms.Current.Hash,
            agree = true,
        });
        Assert.Equal(HttpStatusCode.Created, enrolled.StatusCode);

        // A second host starts (taking over Hangfire's global log provider) and goes away again.
        using (var transient = new InfoBankFactory())
        {
            using var probe = transient.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/health/live")).StatusCode);
        }

        // The survivor's first use of its job client (the erasure sweep) must not touch the dead host.
        var erased = await survivor.EraseAsync(http, resident);
        Assert.Equal(HttpStatusCode.OK, erased.StatusCode);
    }
}
