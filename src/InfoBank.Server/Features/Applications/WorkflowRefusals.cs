using InfoBank.Core.Applications;
using InfoBank.Server.Infrastructure.Errors;

namespace InfoBank.Server.Features.Applications;

/// <summary>The one table from the workflow's refusal kinds (Core, which knows no HTTP) to the problem types a client matches on.</summary>
public static class WorkflowRefusals
{
    public static ProblemType TypeOf(RefusalKind kind) => kind switch
    {
        RefusalKind.WrongState => ProblemTypes.WrongState,
        RefusalKind.NotAllowed => ProblemTypes.RoleNotAllowed,
        // A vote with no reason or an unknown choice: a body missing a required value, not a domain decision.
        RefusalKind.Invalid => ProblemTypes.MalformedRequest,
        RefusalKind.Duplicate => ProblemTypes.AlreadyDone,
        RefusalKind.NoQuorum => ProblemTypes.NoQuorum,
        RefusalKind.PolicyDenies => ProblemTypes.PolicyDenies,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "A workflow refusal kind without a problem type."),
    };

    /// <summary>The refusal for a step the workflow did not allow; a malformed command also names <c>request</c> in <c>errors</c>.</summary>
    public static Refusal Of(RefusalKind kind, string message) => kind == RefusalKind.Invalid
        ? Refusal.Of(TypeOf(kind), new Dictionary<string, string[]> { ["request"] = [message] }, message)
        : Refusal.Of(TypeOf(kind), message);
}
