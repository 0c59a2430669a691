//! The tray icon: the app's mark in a colour for the connection's look,
//! with the unread count drawn on it (1 to 99, then 99+, nothing at 0),
//! and the words that go with it (tooltip, state line). Pure RGBA
//! rendering and text; it knows nothing of trays.

/// How the tray should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrayLook {
    Connected,
    /// Offline or reconnecting.
    Offline,
    SignedOut,
    /// Notifications paused by the user.
    Paused,
}

/// An RGBA image, row-major, 4 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Rgba {
    fn new(size: u32) -> Self {
        Self {
            width: size,
            height: size,
            pixels: vec![0; (size * size * 4) as usize],
        }
    }

    /// The pixel at (x, y); transparent outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        if x >= self.width || y >= self.height {
            return [0; 4];
        }
        let i = ((y * self.width + x) * 4) as usize;
        [
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
            self.pixels[i + 3],
        ]
    }

    fn put(&mut self, x: i32, y: i32, c: [u8; 4]) {
        if x < 0 || y < 0 || x >= self.width as i32 || y >= self.height as i32 {
            return;
        }
        let i = ((y as u32 * self.width + x as u32) * 4) as usize;
        self.pixels[i..i + 4].copy_from_slice(&c);
    }

    fn disc(&mut self, cx: f32, cy: f32, r: f32, c: [u8; 4]) {
        for y in 0..self.height as i32 {
            for x in 0..self.width as i32 {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                if dx * dx + dy * dy <= r * r {
                    self.put(x, y, c);
                }
            }
        }
    }

    fn rect(&mut self, x0: i32, y0: i32, w: i32, h: i32, c: [u8; 4]) {
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                self.put(x, y, c);
            }
        }
    }
}

pub const BADGE_RED: [u8; 4] = [0xd9, 0x30, 0x25, 0xff];
pub const WHITE: [u8; 4] = [0xff, 0xff, 0xff, 0xff];

/// The mark's colour for each look.
pub fn look_colour(look: TrayLook) -> [u8; 4] {
    match look {
        TrayLook::Connected => [0x1f, 0x6f, 0xeb, 0xff],
        TrayLook::Offline => [0x8a, 0x8f, 0x98, 0xff],
        TrayLook::SignedOut => [0x5b, 0x5f, 0x66, 0xff],
        TrayLook::Paused => [0xc2, 0x85, 0x0c, 0xff],
    }
}

/// The text of the badge: "" at 0, "1".."99", then "99+".
pub fn badge_text(unread: u64) -> String {
    match unread {
        0 => String::new(),
        1..=99 => unread.to_string(),
        _ => "99+".into(),
    }
}

/// 3x5 glyphs for the digits and '+', one row a byte, high bits left.
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        '+' => [0b000, 0b010, 0b111, 0b010, 0b000],
        _ => [0; 5],
    }
}

/// Renders the tray icon at `size` (32 or more recommended).
pub fn render(size: u32, look: TrayLook, unread: u64) -> Rgba {
    let mut img = Rgba::new(size);
    let s = size as f32;
    let colour = look_colour(look);
    // The mark: the app's house on a disc, as in the app icon.
    let (cx, cy, r) = (s * 0.44, s * 0.56, s * 0.42);
    img.disc(cx, cy, r, colour);
    let roof_top = cy - r * 0.62;
    let roof_base = cy - r * 0.08;
    let half = r * 0.58;
    for y in roof_top as i32..=roof_base as i32 {
        let t = (y as f32 - roof_top) / (roof_base - roof_top).max(1.0);
        let w = half * t;
        img.rect((cx - w) as i32, y, (2.0 * w) as i32 + 1, 1, WHITE);
    }
    let body_w = r * 0.78;
    let body_h = r * 0.62;
    img.rect(
        (cx - body_w / 2.0) as i32,
        roof_base as i32,
        body_w as i32,
        body_h as i32,
        WHITE,
    );
    let door_w = (r * 0.24).max(1.0);
    let door_h = (body_h * 0.6).max(2.0);
    img.rect(
        (cx - door_w / 2.0) as i32,
        (roof_base + body_h - door_h) as i32,
        door_w as i32,
        door_h as i32,
        colour,
    );
    match look {
        TrayLook::SignedOut => {
            // A slash across the mark.
            for i in 0..size as i32 {
                for t in 0..(size as i32 / 12).max(2) {
                    img.put(i + t - 1, i, WHITE);
                }
            }
        }
        TrayLook::Paused => {
            // Two pause bars on the mark.
            let bar_w = (s * 0.07).max(1.0) as i32;
            let bar_h = (s * 0.22).max(3.0) as i32;
            let top = (s * 0.28) as i32;
            img.rect((s * 0.30) as i32, top, bar_w, bar_h, WHITE);
            img.rect((s * 0.46) as i32, top, bar_w, bar_h, WHITE);
        }
        TrayLook::Connected | TrayLook::Offline => {}
    }
    let text = badge_text(unread);
    if !text.is_empty() {
        // The badge: a red pill at the top right with white digits.
        let scale = ((s / 20.0).floor() as i32).max(1);
        let glyph_w = 3 * scale;
        let gap = scale;
        let text_w = text.len() as i32 * (glyph_w + gap) - gap;
        let pill_h = 7 * scale;
        let pill_w = (text_w + 2 * scale).max(pill_h);
        let x0 = size as i32 - pill_w;
        let y0 = 0;
        let r = pill_h as f32 / 2.0;
        img.disc(x0 as f32 + r, y0 as f32 + r, r, BADGE_RED);
        img.disc((x0 + pill_w) as f32 - r, y0 as f32 + r, r, BADGE_RED);
        img.rect(x0 + r as i32, y0, pill_w - 2 * r as i32, pill_h, BADGE_RED);
        let mut x = x0 + (pill_w - text_w) / 2;
        let y = y0 + scale;
        for c in text.chars() {
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in 0..3 {
                    if bits & (0b100 >> col) != 0 {
                        img.rect(x + col * scale, y + row as i32 * scale, scale, scale, WHITE);
                    }
                }
            }
            x += glyph_w + gap;
        }
    }
    img
}

/// The tooltip's text under the app's name: "3 unread, connected".
pub fn tooltip(unread: u64, state: &str) -> String {
    format!("{unread} unread, {state}")
}

/// The state in words, as the tray's menu and tooltip and the headless
/// log say it: `state` (the connection's phrase and what the caller adds
/// to it), then, while the local store cannot be written, that
/// notifications cannot be saved and why.
pub fn state_line(state: &str, storage_error: Option<&str>) -> String {
    match storage_error {
        Some(why) => format!("{state}; cannot save notifications: {why}"),
        None => state.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(img: &Rgba, c: [u8; 4]) -> usize {
        (0..img.height)
            .flat_map(|y| (0..img.width).map(move |x| (x, y)))
            .filter(|&(x, y)| img.pixel(x, y) == c)
            .count()
    }

    #[test]
    fn badge_text_caps_at_99_plus() {
        assert_eq!(badge_text(0), "");
        assert_eq!(badge_text(1), "1");
        assert_eq!(badge_text(99), "99");
        assert_eq!(badge_text(100), "99+");
        assert_eq!(badge_text(u64::MAX), "99+");
    }

    #[test]
    fn no_badge_at_zero_and_a_red_badge_top_right_otherwise() {
        let none = render(32, TrayLook::Connected, 0);
        assert_eq!(count(&none, BADGE_RED), 0);
        let some = render(32, TrayLook::Connected, 3);
        assert!(count(&some, BADGE_RED) > 20);
        // Top right is badge, bottom left is not.
        assert_eq!(some.pixel(31, 3), BADGE_RED);
        assert_ne!(some.pixel(0, 31), BADGE_RED);
    }

    #[test]
    fn digits_differ_so_the_count_is_readable() {
        let imgs: Vec<Rgba> = [1, 7, 42, 99, 100]
            .iter()
            .map(|&n| render(32, TrayLook::Connected, n))
            .collect();
        for i in 0..imgs.len() {
            for j in i + 1..imgs.len() {
                assert_ne!(imgs[i], imgs[j]);
            }
        }
        // 100 and 1000 both show "99+".
        assert_eq!(
            render(32, TrayLook::Connected, 100),
            render(32, TrayLook::Connected, 1000)
        );
        // White digit pixels sit inside the red badge.
        let img = render(32, TrayLook::Connected, 8);
        let white_in_badge = (0..8)
            .flat_map(|y| (20..32).map(move |x| (x, y)))
            .filter(|&(x, y)| img.pixel(x, y) == WHITE)
            .count();
        assert!(white_in_badge >= 7, "{white_in_badge}");
    }

    #[test]
    fn each_look_is_distinct() {
        let looks = [
            TrayLook::Connected,
            TrayLook::Offline,
            TrayLook::SignedOut,
            TrayLook::Paused,
        ];
        for (i, a) in looks.iter().enumerate() {
            assert!(count(&render(32, *a, 0), look_colour(*a)) > 100);
            for b in &looks[i + 1..] {
                assert_ne!(render(32, *a, 0), render(32, *b, 0), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn renders_at_larger_sizes() {
        let img = render(64, TrayLook::Offline, 5);
        assert_eq!(img.pixels.len(), 64 * 64 * 4);
        assert!(count(&img, BADGE_RED) > 80);
    }

    #[test]
    fn tooltip_names_count_and_state() {
        assert_eq!(tooltip(3, "connected"), "3 unread, connected");
    }

    #[test]
    fn the_state_line_says_when_notifications_cannot_be_saved() {
        assert_eq!(state_line("connected", None), "connected");
        assert_eq!(
            state_line("connected", Some("database or disk is full")),
            "connected; cannot save notifications: database or disk is full"
        );
    }
}
