using System.Text.Json;
using InfoBank.Core.Custody;

namespace InfoBank.Core.Tests.Custody;

/// <summary>Payloads are stored as sent: an integer field must be written as an integer.</summary>
public sealed class PayloadValidatorTests
{
    private static readonly InventoryCategory Steps = DataInventory.Default.Find("steps.daily")!;
    private static readonly InventoryCategory Body = DataInventory.Default.Find("body.composition")!;

    private static List<FieldError> Validate(InventoryCategory category, string json)
    {
        using var document = JsonDocument.Parse(json);
        var errors = new List<FieldError>();
        PayloadValidator.Validate(category, document.RootElement, "records[3].payload", errors);
        return errors;
    }

    [Theory]
    [InlineData("0")]
    [InlineData("100")]
    [InlineData("-0")]
    [InlineData("200000")]
    public void Integer_literals_pass(string steps) =>
        Assert.Empty(Validate(Steps, $$"""{"steps": {{steps}}}"""));

    [Theory]
    [InlineData("1E2", "no exponent")]
    [InlineData("1e+2", "no exponent")]
    [InlineData("100.000", "no fraction")]
    [InlineData("100.0", "no fraction")]
    [InlineData("0.5", "no fraction")]
    [InlineData("1e400", "no exponent")]
    [InlineData("\"100\"", "Expected an integer")]
    [InlineData("true", "Expected an integer")]
    [InlineData("99999999999999999999999999999999", "out of range")]
    [InlineData("99999999999999999999", "above the maximum")]
    public void Other_forms_of_an_integer_are_refused_at_the_field_path(string steps, string message)
    {
        var error = Assert.Single(Validate(Steps, $$"""{"steps": {{steps}}}"""));
        Assert.Equal("records[3].payload.steps", error.Path);
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData("61.2")]
    [InlineData("6.12E1")]
    [InlineData("61")]
    public void Number_fields_take_any_finite_number_in_range(string weight) =>
        Assert.Empty(Validate(Body, $$"""{"weightKg": {{weight}}}"""));

    [Fact]
    public void A_number_beyond_decimal_is_out_of_range()
    {
        var error = Assert.Single(Validate(Body, """{"weightKg": 1e400}"""));
        Assert.Equal("records[3].payload.weightKg", error.Path);
        Assert.Contains("out of range", error.Message);
    }
}
