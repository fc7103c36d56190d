using InfoBank.Core.Consent;
using InfoBank.Server.Infrastructure.Errors;

namespace InfoBank.Server.Features.Consent;

/// <summary>
/// The one table from the ledger's refusal kinds (Core, which knows no HTTP) to the problem types a
/// client matches on: each kind has its own type, so "offer closed" and "already consented" differ by <c>type</c> alone.
/// </summary>
public static class ConsentRefusals
{
    public static ProblemType TypeOf(ConsentRefusalKind kind) => kind switch
    {
        ConsentRefusalKind.NotFound => ProblemTypes.NotFound,
        ConsentRefusalKind.OfferNotOpen => ProblemTypes.OfferNotOpen,
        ConsentRefusalKind.NoticeNotCurrent => ProblemTypes.NoticeNotCurrent,
        ConsentRefusalKind.AlreadyConsented => ProblemTypes.AlreadyConsented,
        ConsentRefusalKind.AlreadyEnded => ProblemTypes.ConsentEnded,
        ConsentRefusalKind.Unacceptable => ProblemTypes.SpecialCareNotNamed,
        ConsentRefusalKind.NotEnrolled => ProblemTypes.NotEnrolled,
        ConsentRefusalKind.WindowNotOffered => ProblemTypes.ConsentWindowNotOffered,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "A consent refusal kind without a problem type."),
    };

    public static Refusal ToRefusal(this ConsentRefusal refusal) => Refusal.Of(TypeOf(refusal.Kind), refusal.Message);
}
