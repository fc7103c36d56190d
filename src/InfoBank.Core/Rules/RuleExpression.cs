using YamlDotNet.RepresentationModel;

namespace InfoBank.Core.Rules;

/// <summary>An expression as written in a rule file, kept with its text and where it came from.</summary>
public sealed record RuleExpression(string Text, Expr Expr, string File, long Line)
{
    /// <summary>Parses the scalar at <paramref name="node"/>; syntax errors and unknown facts name file and line.</summary>
    public static RuleExpression Parse(YamlFile file, YamlNode node, IReadOnlySet<string> knownRoots)
    {
        if (node is not YamlScalarNode { Value: { Length: > 0 } text })
        {
            throw file.Error(node, "an expression must be a non-empty text");
        }
        Expr expr;
        try
        {
            expr = Expr.Parse(text);
        }
        catch (ExpressionSyntaxException e)
        {
            throw file.Error(node, $"expression '{text}' at column {e.Column}: {e.Message}");
        }
        var unknown = expr.FreeRoots().Where(r => !knownRoots.Contains(r)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            throw file.Error(node, $"expression '{text}' reads unknown fact(s) {string.Join(", ", unknown)}; known: {string.Join(", ", knownRoots.Order(StringComparer.Ordinal))}");
        }
        return new RuleExpression(text, expr, file.Path, node.Start.Line);
    }

    /// <summary>True/false, or an error message when the expression does not fit the facts.</summary>
    public (bool? Holds, string? Error) Test(IReadOnlyDictionary<string, Value> facts)
    {
        try
        {
            return Expr.Evaluate(facts) is BoolValue b
                ? (b.Value, null)
                : (null, $"'{Text}' did not give true or false");
        }
        catch (ExpressionEvaluationException e)
        {
            return (null, $"'{Text}' ({File}:{Line}): {e.Message}");
        }
    }

    public object? Show(IReadOnlyDictionary<string, Value> facts)
    {
        try
        {
            return Expr.Evaluate(facts).ToPlain();
        }
        catch (ExpressionEvaluationException e)
        {
            return "error: " + e.Message;
        }
    }
}
