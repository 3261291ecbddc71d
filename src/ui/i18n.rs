//! English / 简体中文: every UI string is written as a pair where it is used, so a
//! reader sees both languages side by side and none can be forgotten.

use crate::corpus::Lang;

pub fn tr(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}
