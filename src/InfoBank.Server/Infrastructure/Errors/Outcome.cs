using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InfoBank.Server.Infrastructure.Errors;

/// <summary>
/// Why a service did not do what it was asked: the problem <see cref="Type"/> a client matches on,
/// and a <see cref="Detail"/> in words. Services return it; <see cref="ToResult"/> is the one place
/// it becomes an HTTP answer, so every refusal has the same shape whichever feature gave it.
/// </summary>
public sealed record Refusal
{
    /// <summary>The <c>extensions</c> member that carries <see cref="RetryAfter"/> in seconds; the Retry-After header is set from it.</summary>
    public const string RetryAfterExtension = "retryAfterSeconds";

    public Refusal(ProblemType type, string? detail)
    {
        Type = type;
        // A refusal without words would leave the client with a status only; the type's own description says at least what kind of error it is.
        Detail = string.IsNullOrWhiteSpace(detail) ? type.Description : detail;
    }

    public ProblemType Type { get; }

    public string Detail { get; }

    /// <summary>For a refusal about particular members or parameters: each one (JSON path or parameter name) with what is wrong with it.</summary>
    public IReadOnlyDictionary<string, string[]>? Errors { get; init; }

    /// <summary>Further members of the body a client may use (for example <c>rules</c>: the forbidding rule ids).</summary>
    public IReadOnlyDictionary<string, object?>? Extensions { get; init; }

    /// <summary>When the same request may succeed later: sent as Retry-After (whole seconds, at least 1).</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static Refusal Of(ProblemType type, string detail) => new(type, detail);

    /// <summary>A refusal naming each member or parameter at fault; without a detail, the detail lists the first few.</summary>
    public static Refusal Of(ProblemType type, IDictionary<string, string[]> errors, string? detail = null) =>
        new(type, detail ?? Summary(errors)) { Errors = new Dictionary<string, string[]>(errors, StringComparer.Ordinal) };

    /// <summary>This refusal with one more body member.</summary>
    public Refusal With(string key, object? value) =>
        this with { Extensions = new Dictionary<string, object?>(Extensions ?? new Dictionary<string, object?>(), StringComparer.Ordinal) { [key] = value } };

    /// <summary>The RFC 9457 body: type, title, status, detail, and errors and extensions when present.</summary>
    public ProblemDetails ToDetails()
    {
        var problem = Errors is null
            ? new ProblemDetails()
            : new HttpValidationProblemDetails(Errors.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal));
        problem.Type = Type.Uri;
        problem.Status = Type.Status;
        problem.Title = Type.Title;
        problem.Detail = Detail;
        foreach (var (key, value) in Extensions ?? new Dictionary<string, object?>())
        {
            problem.Extensions[key] = value;
        }
        if (RetryAfterSeconds is { } seconds)
        {
            problem.Extensions[RetryAfterExtension] = seconds;
        }
        return problem;
    }

    /// <summary>The endpoint's typed result. The Retry-After header is written with the body (<see cref="ProblemDetailsSetup"/>).</summary>
    public ProblemHttpResult ToResult() => TypedResults.Problem(ToDetails());

    private long? RetryAfterSeconds => RetryAfter is { } after ? (long)Math.Max(1, Math.Ceiling(after.TotalSeconds)) : null;

    /// <summary>The Retry-After header value a body carries, if any.</summary>
    internal static string? RetryAfterHeader(ProblemDetails problem) =>
        problem.Extensions.TryGetValue(RetryAfterExtension, out var value) && value is long seconds
            ? seconds.ToString(CultureInfo.InvariantCulture)
            : null;

    private static string Summary(IDictionary<string, string[]> errors) =>
        string.Join(" ", errors.Take(5).Select(e => $"{e.Key}: {e.Value.FirstOrDefault()}")) + (errors.Count > 5 ? " …" : "");
}

/// <summary>
/// A value, or the <see cref="Errors.Refusal"/> that says why there is none. Services write
/// <c>return value;</c> or <c>return Refusal.Of(ProblemTypes.X, "…");</c>; handlers turn it into
/// their typed result with <see cref="OutcomeResults"/>.
/// </summary>
public sealed class Outcome<T>
{
    private Outcome(T? value, Refusal? refusal) => (Value, Refusal) = (value, refusal);

    /// <summary>The value; default when refused.</summary>
    public T? Value { get; }

    public Refusal? Refusal { get; }

    [MemberNotNullWhen(false, nameof(Refusal))]
    public bool Succeeded => Refusal is null;

    public static Outcome<T> Of(T value) => new(value, null);

    public static Outcome<T> Refused(Refusal refusal) => new(default, refusal);

    public static implicit operator Outcome<T>(T value) => Of(value);

    public static implicit operator Outcome<T>(Refusal refusal) => Refused(refusal);

    public void Deconstruct(out T? value, out Refusal? refusal) => (value, refusal) = (Value, Refusal);
}

/// <summary>Done, or the <see cref="Errors.Refusal"/> that says why not: for steps that produce no value.</summary>
public sealed class Outcome
{
    private Outcome(Refusal? refusal) => Refusal = refusal;

    public static readonly Outcome Done = new(null);

    public Refusal? Refusal { get; }

    [MemberNotNullWhen(false, nameof(Refusal))]
    public bool Succeeded => Refusal is null;

    public static implicit operator Outcome(Refusal refusal) => new(refusal);
}

/// <summary>The one mapping from outcomes to an endpoint's typed results.</summary>
public static class OutcomeResults
{
    /// <summary>200 with the value, or the refusal's problem.</summary>
    public static Results<Ok<T>, ProblemHttpResult> ToOk<T>(this Outcome<T> outcome) =>
        outcome.Succeeded ? TypedResults.Ok(outcome.Value!) : outcome.Refusal.ToResult();

    /// <summary>The handler's own result for the value (201, a body of its choosing), or the refusal's problem.</summary>
    public static Results<TResult, ProblemHttpResult> ToResult<T, TResult>(this Outcome<T> outcome, Func<T, TResult> onValue)
        where TResult : IResult =>
        outcome.Succeeded ? onValue(outcome.Value!) : outcome.Refusal.ToResult();

    /// <summary>204, or the refusal's problem.</summary>
    public static Results<NoContent, ProblemHttpResult> ToNoContent(this Outcome outcome) =>
        outcome.Succeeded ? TypedResults.NoContent() : outcome.Refusal.ToResult();
}
