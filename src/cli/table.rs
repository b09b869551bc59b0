//! PowerShell-shaped tables (`Format-Table` layout: header, dashes, left-aligned columns) and
//! their `--json` form (one document, field names = column names, an array for lists).

use serde_json::{Map, Value};

/// Columns of a session row, as `Get-PSSession` prints them.
pub const SESSION_COLUMNS: [&str; 6] = [
    "Id",
    "Name",
    "ComputerName",
    "State",
    "ConfigurationName",
    "Availability",
];

/// Columns of a job row, as `Get-Job` prints them.
pub const JOB_COLUMNS: [&str; 6] = [
    "Id",
    "Name",
    "PSJobTypeName",
    "State",
    "HasMoreData",
    "Location",
];

/// One row: a value per column, in column order.
#[derive(Clone, Debug, PartialEq)]
pub struct Row(pub Vec<Value>);

/// Renders rows under `columns` as PowerShell does.
pub fn render(columns: &[&str], rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.0.iter().map(cell_text).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |parts: Vec<String>| -> String {
        let mut l = String::new();
        for (i, p) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                l.push_str(p);
            } else {
                let w = widths.get(i).copied().unwrap_or(0);
                l.push_str(&format!("{p:<w$} "));
            }
        }
        l.trim_end().to_owned()
    };
    out.push('\n');
    out.push_str(&line(columns.iter().map(|c| (*c).to_owned()).collect()));
    out.push('\n');
    out.push_str(&line(
        columns
            .iter()
            .enumerate()
            .map(|(i, _)| "-".repeat(widths.get(i).copied().unwrap_or(1)))
            .collect(),
    ));
    out.push('\n');
    for r in cells {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

/// Rows as a JSON array of objects keyed by column name.
pub fn to_json(columns: &[&str], rows: &[Row]) -> Value {
    Value::Array(rows.iter().map(|r| row_object(columns, r)).collect())
}

/// One row as a JSON object keyed by column name.
pub fn row_object(columns: &[&str], row: &Row) -> Value {
    let mut map = Map::new();
    for (c, v) in columns.iter().zip(&row.0) {
        map.insert((*c).to_owned(), v.clone());
    }
    Value::Object(map)
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_to_the_widest_cell() {
        let rows = [Row(vec![
            Value::from(1),
            Value::from("Session1"),
            Value::from("server01"),
            Value::from("Opened"),
            Value::from("Microsoft.PowerShell"),
            Value::from("Available"),
        ])];
        let text = render(&SESSION_COLUMNS, &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.get(1).copied(),
            Some("Id Name     ComputerName State  ConfigurationName    Availability")
        );
        assert_eq!(
            lines.get(3).copied(),
            Some("1  Session1 server01     Opened Microsoft.PowerShell Available")
        );
        let json = to_json(&SESSION_COLUMNS, &rows);
        assert_eq!(json[0]["Availability"], "Available");
        assert_eq!(json[0]["Id"], 1);
    }
}
