using System.Net.Http.Json;
using InfoBank.Server.Features.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>Resident actions the tests take over HTTP that need more than one line.</summary>
public static class ResidentSteps
{
    /// <summary>DELETE /api/v1/me, confirmed with the account's username as the API requires.</summary>
    public static async Task<HttpResponseMessage> EraseAsync(this InfoBankFactory factory, HttpClient resident, Guid residentId)
    {
        var account = await factory.Services.GetRequiredService<AccountStore>().FindAsync(residentId, CancellationToken.None)
            ?? throw new InvalidOperationException($"No account {residentId}.");
        return await resident.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/api/v1/me")
        {
            Content = JsonContent.Create(new { confirmAccount = account.Username }),
        });
    }
}
