using InfoBank.Core.Rules;

namespace InfoBank.Core.Tests.Applications;

public sealed class ExpressionTests
{
    private static readonly Dictionary<string, Value> Facts = new(StringComparer.Ordinal)
    {
        ["fields"] = Value.Of(["a.x", "a.y"]),
        ["needed"] = Value.Of(["a.x", "a.y", "a.z"]),
        ["n"] = Value.Of(5),
        ["flag"] = Value.True,
        ["output"] = Value.Obj(("kind", Value.Of("aggregate")), ("k", Value.Null)),
        ["text"] = Value.Of("JP"),
    };

    [Theory]
    [InlineData("fields subset needed", true)]
    [InlineData("needed subset fields", false)]
    [InlineData("fields intersects ['a.y', 'q']", true)]
    [InlineData("fields intersects []", false)]
    [InlineData("diff(needed, fields) == ['a.z']", true)]
    [InlineData("count(intersect(needed, fields)) == 2", true)]
    [InlineData("count(fields) >= 3", false)]
    [InlineData("'a.x' in fields and 'a.z' not in fields", true)]
    [InlineData("n > 4 and n <= 5 and n != 6 and not (n < 5)", true)]
    [InlineData("text == 'JP' or n == 0", true)]
    [InlineData("text >= 'JA'", true)]
    [InlineData("output.kind == 'aggregate' and output.k == null", true)]
    [InlineData("output.missing == null", true)]
    [InlineData("all(f in fields: f in needed)", true)]
    [InlineData("all(f in needed: f in fields)", false)]
    [InlineData("any(f in needed: f == 'a.z')", true)]
    [InlineData("any(f in []: f == 1)", false)]
    [InlineData("all(f in []: f == 1)", true)]
    [InlineData("flag and -1 < 0", true)]
    [InlineData("[1, 2] == [1, 2] and [1] != [2]", true)]
    public void Evaluates(string text, bool expected)
    {
        Assert.Equal(Value.Of(expected), Expr.Parse(text).Evaluate(Facts));
    }

    [Fact]
    public void Or_and_and_short_circuit_so_absent_optional_facts_are_safe()
    {
        Assert.Equal(Value.False, Expr.Parse("output.kind == 'record' and output.k < 10").Evaluate(Facts));
        Assert.Equal(Value.True, Expr.Parse("flag or output.k < 10").Evaluate(Facts));
    }

    [Theory]
    [InlineData("n <", 4)]
    [InlineData("n == 'x", 6)]
    [InlineData("frobnicate(n)", 1)]
    [InlineData("count(fields, needed)", 1)]
    [InlineData("(n == 1", 8)]
    [InlineData("n == 1 )", 8)]
    [InlineData("all(fields: true)", 11)]
    [InlineData("output.", 8)]
    public void Syntax_errors_give_the_column(string text, int column)
    {
        var error = Assert.Throws<ExpressionSyntaxException>(() => Expr.Parse(text));
        Assert.Equal(column, error.Column);
    }

    [Theory]
    [InlineData("output.k < 10", "cannot compare null")]
    [InlineData("count(n) > 1", "'count' needs a list")]
    [InlineData("n and flag", "'and' needs a boolean")]
    [InlineData("nothing == 1", "unknown fact 'nothing'")]
    [InlineData("n.x == 1", "has no member 'x'")]
    [InlineData("1 in n", "'in' needs a list")]
    public void Evaluation_errors_say_what_did_not_fit(string text, string message)
    {
        var error = Assert.Throws<ExpressionEvaluationException>(() => Expr.Parse(text).Evaluate(Facts));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Free_roots_exclude_quantifier_variables()
    {
        var roots = Expr.Parse("all(f in fields: f in needed) and output.k == n").FreeRoots();
        Assert.Equal(["fields", "n", "needed", "output"], roots.Order(StringComparer.Ordinal));
    }

    [FsCheck.Xunit.Property(MaxTest = 300)]
    public bool Parsing_any_text_either_succeeds_or_fails_with_a_syntax_error(string? text)
    {
        try
        {
            Expr.Parse(text ?? "");
            return true;
        }
        catch (ExpressionSyntaxException)
        {
            return true;
        }
    }
}
