using InfoBank.Core.Consent;

namespace InfoBank.Server.Features.Consent;

/// <summary>
/// The Access feature's one question to the consent ledger: may this recipient receive these items
/// of this resident for this purpose now? Reads the resident's relevant consents and the offers'
/// current terms fresh from the database on every call (there is deliberately no cache, so a
/// withdrawal, suspension or revocation counts from the very next request) and hands them to
/// <see cref="ConsentDecider.Decide"/>, with the current time for expiry.
/// </summary>
public sealed class ConsentDecisions(ConsentStore store, TimeProvider time)
{
    public async Task<ConsentDecision> DecideAsync(DecisionRequest request, CancellationToken cancellationToken = default)
    {
        await using var connection = await store.Connections.OpenAsync(cancellationToken);
        var snapshot = await store.SnapshotAsync(connection, request.SubjectId, request.RecipientClientId, request.PurposeCode);
        return ConsentDecider.Decide(request, time.GetUtcNow(), snapshot);
    }
}
