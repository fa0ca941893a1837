//! A small element tree over quick-xml events, with byte offsets, for the
//! validator. Never panics: malformed input is an error with its offset.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Text directly inside (concatenated; comments excluded).
    pub text: String,
    /// Byte offset of the start tag.
    pub offset: usize,
    /// Whether there was a comment or CDATA inside (clients read those
    /// differently).
    pub odd_content: bool,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Dropping a deep tree element by element, not recursively: a hostile
/// file nested 100,000 levels deep must not exhaust the stack.
impl Drop for Element {
    fn drop(&mut self) {
        let mut todo = std::mem::take(&mut self.children);
        while let Some(mut e) = todo.pop() {
            todo.append(&mut e.children);
        }
    }
}

pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

fn start(e: &BytesStart, offset: usize) -> Result<Element, ParseError> {
    let name = e.name().as_ref().to_string();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| ParseError {
            offset,
            message: format!("bad attribute: {err}"),
        })?;
        let key = a.key.as_ref().to_string();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Explicit1_0)
            .map_err(|err| ParseError {
                offset,
                message: format!("bad attribute value: {err}"),
            })?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        offset,
        children: Vec::new(),
        text: String::new(),
        odd_content: false,
    })
}

/// Parses a whole document into its root element.
pub fn parse(text: &str) -> Result<Element, ParseError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let offset = usize::try_from(reader.buffer_position()).unwrap_or(0);
        let ev = reader.read_event().map_err(|e| ParseError {
            offset: usize::try_from(reader.error_position()).unwrap_or(offset),
            message: e.to_string(),
        })?;
        match ev {
            Event::Start(e) => {
                if root.is_some() && stack.is_empty() {
                    return Err(ParseError {
                        offset,
                        message: "content after the root element".into(),
                    });
                }
                stack.push(start(&e, offset)?);
            }
            Event::Empty(e) => {
                let el = start(&e, offset)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => {
                        return Err(ParseError {
                            offset,
                            message: "content after the root element".into(),
                        });
                    }
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or(ParseError {
                    offset,
                    message: "closing tag without an opening tag".into(),
                })?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => {
                        return Err(ParseError {
                            offset,
                            message: "text outside the root element".into(),
                        });
                    }
                }
            }
            Event::GeneralRef(r) => {
                let name = r.xml10_content().into_owned();
                let resolved = match name.as_str() {
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "amp" => "&".to_string(),
                    "apos" => "'".to_string(),
                    "quot" => "\"".to_string(),
                    n if n.starts_with('#') => {
                        let num = n.strip_prefix("#x").map_or_else(
                            || n[1..].parse::<u32>().ok(),
                            |h| u32::from_str_radix(h, 16).ok(),
                        );
                        match num.and_then(char::from_u32) {
                            Some(c) => c.to_string(),
                            None => {
                                return Err(ParseError {
                                    offset,
                                    message: format!("bad character reference &{n};"),
                                });
                            }
                        }
                    }
                    n => {
                        return Err(ParseError {
                            offset,
                            message: format!("unknown entity &{n};"),
                        });
                    }
                };
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&resolved);
                }
            }
            Event::CData(c) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&c.xml10_content());
                    el.odd_content = true;
                }
            }
            Event::Comment(_) => {
                if let Some(el) = stack.last_mut() {
                    el.odd_content = true;
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(ParseError {
            offset: open.offset,
            message: format!("<{}> is never closed", open.name),
        });
    }
    root.ok_or(ParseError {
        offset: 0,
        message: "no root element".into(),
    })
}
