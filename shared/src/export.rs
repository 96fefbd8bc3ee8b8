//! Exports of what a screen shows: CSV (UTF-8 with a byte-order mark, so Excel reads Chinese
//! correctly) and an Excel workbook (`.xlsx`: a zip of SpreadsheetML parts, written here with
//! stored entries, so the app carries no zip or spreadsheet library).
//!
//! Both take the same `(headers, rows)` the screen renders: an export holds exactly the rows
//! shown. The server's CSV export and the app's exports both write through here, so a cell is
//! defused against formula injection by one rule.

/// A table as shown: column headers and rows of cell texts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of cells, each as many as the headers.
    pub rows: Vec<Vec<String>>,
}

/// The table as CSV (RFC 4180 quoting, CRLF line ends, a BOM first).
pub fn csv(table: &Table) -> String {
    let mut out = String::from(CSV_BOM);
    for row in std::iter::once(&table.headers).chain(&table.rows) {
        out.push_str(&csv_row(row));
    }
    out
}

/// What a CSV file starts with, so Excel reads it as UTF-8.
pub const CSV_BOM: &str = "\u{feff}";

/// One CSV line, CRLF included (a streamed export writes the BOM, then line after line).
pub fn csv_row(row: &[String]) -> String {
    let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
    let mut line = cells.join(",");
    line.push_str("\r\n");
    line
}

/// One CSV cell: quoted when it must be, and defused when a spreadsheet would evaluate it.
pub fn csv_cell(c: &str) -> String {
    // A leading = + - @ would make a spreadsheet evaluate a resident's text as a formula.
    let c = if c.starts_with(['=', '+', '-', '@']) && c.parse::<f64>().is_err() {
        format!("'{c}")
    } else {
        c.to_owned()
    };
    if c.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Characters XML 1.0 cannot hold are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn column(mut n: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn sheet_xml(table: &Table) -> String {
    let mut x = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in std::iter::once(&table.headers)
        .chain(&table.rows)
        .enumerate()
    {
        x.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, cell) in row.iter().enumerate() {
            let at = format!("{}{}", column(c), r + 1);
            // Numbers stay numbers (sums and sorting work in Excel); text is inline text.
            if r > 0 && !cell.is_empty() && cell.parse::<f64>().is_ok_and(f64::is_finite) {
                x.push_str(&format!(r#"<c r="{at}"><v>{cell}</v></c>"#));
            } else {
                x.push_str(&format!(
                    r#"<c r="{at}" t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>"#,
                    xml_escape(cell)
                ));
            }
        }
        x.push_str("</row>");
    }
    x.push_str("</sheetData></worksheet>");
    x
}

/// The table as an Excel workbook with one sheet named `sheet`.
pub fn xlsx(table: &Table, sheet: &str) -> Vec<u8> {
    let parts: [(&str, String); 5] = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.into(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.into(),
        ),
        (
            "xl/workbook.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{}" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
                xml_escape(&sheet.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect::<String>())
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.into(),
        ),
        ("xl/worksheets/sheet1.xml", sheet_xml(table)),
    ];
    zip_stored(
        &parts
            .iter()
            .map(|(n, d)| (*n, d.as_bytes()))
            .collect::<Vec<_>>(),
    )
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive of uncompressed ("stored") entries.
fn zip_stored(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let size = data.len() as u32;
        let name_len = name.len() as u16;
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        // Version 2.0, UTF-8 names, stored, 00:00 on 1980-01-01.
        out.extend_from_slice(&[20, 0, 0, 8, 0, 0, 0, 0, 0x21, 0]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Central directory entry.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&[20, 0, 20, 0, 0, 8, 0, 0, 0, 0, 0x21, 0]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let start = out.len() as u32;
    let count = files.len() as u16;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            headers: vec!["网格".into(), "户数".into()],
            rows: vec![
                vec!["s01/c01/g01".into(), "20".into()],
                vec!["a,\"b\"".into(), "=cmd()".into()],
            ],
        }
    }

    #[test]
    fn csv_quotes_commas_and_quotes_and_defuses_formulas() {
        assert_eq!(
            csv(&table()),
            "\u{feff}网格,户数\r\ns01/c01/g01,20\r\n\"a,\"\"b\"\"\",'=cmd()\r\n"
        );
        assert_eq!(csv_cell("-3"), "-3");
    }

    #[test]
    fn the_crc_is_the_zip_crc() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn columns_go_past_z() {
        assert_eq!(column(0), "A");
        assert_eq!(column(25), "Z");
        assert_eq!(column(26), "AA");
    }

    #[test]
    fn a_workbook_is_a_zip_with_the_cells_inline() {
        let bytes = xlsx(&table(), "统计");
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains(r#"<c r="B2"><v>20</v></c>"#));
        assert!(text.contains("a,&quot;b&quot;"));
        assert!(text.contains(r#"<sheet name="统计""#));
        // The end-of-central-directory record names five entries.
        let eocd = bytes.len() - 22;
        assert_eq!(&bytes[eocd..eocd + 4], b"PK\x05\x06");
        assert_eq!(u16::from_le_bytes([bytes[eocd + 10], bytes[eocd + 11]]), 5);
    }
}
