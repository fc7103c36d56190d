using System.Text.Json;

namespace InfoBank.Core.Custody;

/// <summary>A problem with one part of a request, named by its JSON path (e.g. <c>records[3].payload.steps</c>).</summary>
public sealed record FieldError(string Path, string Message);

/// <summary>
/// Checks a deposit's payload against its inventory category: a JSON object whose members are all
/// known fields of the right type and within range, with every required field present.
/// </summary>
public static class PayloadValidator
{
    /// <summary>Appends to <paramref name="errors"/> one entry per problem; returns true when there were none.</summary>
    public static bool Validate(InventoryCategory category, JsonElement payload, string path, ICollection<FieldError> errors)
    {
        var before = errors.Count;
        if (payload.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError(path, $"The payload must be a JSON object with the fields of {category.Name}."));
            return false;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in payload.EnumerateObject())
        {
            // Paths are built only for errors: a valid batch of thousands of records builds none.
            if (!seen.Add(member.Name))
            {
                errors.Add(new FieldError($"{path}.{member.Name}", "The field appears more than once."));
                continue;
            }
            if (!category.Fields.TryGetValue(member.Name, out var field))
            {
                errors.Add(new FieldError($"{path}.{member.Name}", $"Unknown field for {category.Name}; known fields: {string.Join(", ", category.Fields.Keys)}."));
                continue;
            }
            if (CheckValue(field, member.Value) is { } message)
            {
                errors.Add(new FieldError($"{path}.{member.Name}", message));
            }
        }
        foreach (var field in category.Fields.Values)
        {
            if (field.Required && !seen.Contains(field.Name))
            {
                errors.Add(new FieldError($"{path}.{field.Name}", $"The field is required for {category.Name}."));
            }
        }
        return errors.Count == before;
    }

    private static string? CheckValue(InventoryField field, JsonElement value)
    {
        switch (field.Type)
        {
            case FieldType.Integer:
                // The payload is stored as sent, so 1E2 or 100.000 would reach every reader in that
                // form: an integer field takes an integer literal (digits, optional minus) only.
                if (value.ValueKind != JsonValueKind.Number || !IsIntegerLiteral(value.GetRawText()))
                {
                    return "Expected an integer (digits only: no fraction, no exponent).";
                }
                if (!value.TryGetDecimal(out var integer))
                {
                    return "The integer is out of range.";
                }
                return CheckRange(field, integer);
            case FieldType.Number:
                if (value.ValueKind != JsonValueKind.Number)
                {
                    return "Expected a number.";
                }
                if (!value.TryGetDecimal(out var number))
                {
                    return "The number is out of range.";
                }
                return CheckRange(field, number);
            case FieldType.Boolean:
                return value.ValueKind is JsonValueKind.True or JsonValueKind.False ? null : "Expected true or false.";
            case FieldType.String:
                if (value.ValueKind != JsonValueKind.String)
                {
                    return "Expected a string.";
                }
                var text = value.GetString()!;
                if (field.MaxLength is { } maxLength && text.Length > maxLength)
                {
                    return $"The text is longer than {maxLength} characters.";
                }
                if (field.Values is { } values && !values.Contains(text, StringComparer.Ordinal))
                {
                    return $"Expected one of: {string.Join(", ", values)}.";
                }
                return null;
            default:
                return "Unsupported field type.";
        }
    }

    private static bool IsIntegerLiteral(string raw)
    {
        var digits = raw.AsSpan(raw.StartsWith('-') ? 1 : 0);
        return digits.Length > 0 && !digits.ContainsAnyExceptInRange('0', '9');
    }

    private static string? CheckRange(InventoryField field, decimal value)
    {
        if (field.Min is { } min && value < min)
        {
            return $"The value {value} is below the minimum {min}.";
        }
        if (field.Max is { } max && value > max)
        {
            return $"The value {value} is above the maximum {max}.";
        }
        return null;
    }
}
