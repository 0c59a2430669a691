//! The installed icons are what the app draws: the tray's looks at every
//! size the package installs them (hicolor `status` icons, shown by name
//! when there is no count to draw), and the app icon at the usual sizes.
//! `icons/hicolor/` is written from the code by
//! `SMARTHUNT_WRITE_ICONS=1 cargo test -p smarthunt-tray --test icons`;
//! this test fails when the committed files or the package lists disagree.

use std::path::{Path, PathBuf};

use smarthunt_core::badge::{self, TrayLook};
use smarthunt_tray::desktop_notifier::DESKTOP_ENTRY;
use smarthunt_tray::shell::tray::{look_icon_name, LOOK_SIZES};

const LOOKS: [TrayLook; 4] = [
    TrayLook::Connected,
    TrayLook::Offline,
    TrayLook::SignedOut,
    TrayLook::Paused,
];

/// The app icon's sizes beyond the 32, 128 and 256 pixel files in `icons/`.
const APP_SIZES: [u32; 5] = [16, 22, 24, 48, 64];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn hicolor(size: u32, context: &str) -> PathBuf {
    root().join(format!("icons/hicolor/{size}x{size}/{context}"))
}

/// An 8-bit RGBA image.
#[derive(PartialEq)]
struct Image {
    size: u32,
    rgba: Vec<u8>,
}

fn decode(path: &Path) -> Image {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::STRIP_16 | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("one frame");
    assert_eq!(info.width, info.height, "{} is square", path.display());
    assert_eq!(info.color_type, png::ColorType::Rgba, "{}", path.display());
    buf.truncate(info.buffer_size());
    Image {
        size: info.width,
        rgba: buf,
    }
}

fn encode(path: &Path, img: &Image) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), img.size, img.size);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&img.rgba).unwrap();
}

/// `src` scaled down to `size` by averaging the area each pixel covers,
/// in premultiplied alpha (so transparent pixels lend no colour).
fn scale_down(src: &Image, size: u32) -> Image {
    let scale = f64::from(src.size) / f64::from(size);
    let mut rgba = Vec::with_capacity((size * size * 4) as usize);
    for y in 0..size {
        for x in 0..size {
            let (x0, x1) = (f64::from(x) * scale, f64::from(x + 1) * scale);
            let (y0, y1) = (f64::from(y) * scale, f64::from(y + 1) * scale);
            let mut acc = [0f64; 4];
            let mut area = 0f64;
            for sy in y0.floor() as u32..(y1.ceil() as u32).min(src.size) {
                let h = (f64::from(sy + 1).min(y1) - f64::from(sy).max(y0)).max(0.0);
                for sx in x0.floor() as u32..(x1.ceil() as u32).min(src.size) {
                    let w = (f64::from(sx + 1).min(x1) - f64::from(sx).max(x0)).max(0.0);
                    let i = ((sy * src.size + sx) * 4) as usize;
                    let a = f64::from(src.rgba[i + 3]) / 255.0;
                    for (c, v) in acc.iter_mut().take(3).enumerate() {
                        *v += f64::from(src.rgba[i + c]) * a * w * h;
                    }
                    acc[3] += a * w * h;
                    area += w * h;
                }
            }
            let alpha = acc[3] / area;
            for v in &acc[..3] {
                let c = if acc[3] > 0.0 { v / acc[3] } else { 0.0 };
                rgba.push(c.round().clamp(0.0, 255.0) as u8);
            }
            rgba.push((alpha * 255.0).round().clamp(0.0, 255.0) as u8);
        }
    }
    Image { size, rgba }
}

/// Every icon the package installs from `icons/hicolor/`, as it must be.
fn expected() -> Vec<(PathBuf, Image)> {
    let mut all = Vec::new();
    for size in LOOK_SIZES {
        for look in LOOKS {
            let drawn = badge::render(size, look, 0);
            let path = hicolor(size, "status").join(format!("{}.png", look_icon_name(look)));
            all.push((
                path,
                Image {
                    size,
                    rgba: drawn.pixels,
                },
            ));
        }
    }
    let app = decode(&root().join("icons/icon.png"));
    for size in APP_SIZES {
        let path = hicolor(size, "apps").join(format!("{DESKTOP_ENTRY}.png"));
        all.push((path, scale_down(&app, size)));
    }
    all
}

#[test]
fn the_installed_icons_are_what_the_app_draws_at_every_size() {
    let write = std::env::var_os("SMARTHUNT_WRITE_ICONS").is_some();
    for (path, want) in expected() {
        if write {
            encode(&path, &want);
        }
        assert!(
            path.is_file(),
            "{} is missing: write the icons with SMARTHUNT_WRITE_ICONS=1",
            path.display()
        );
        let got = decode(&path);
        assert!(
            got == want,
            "{} differs from what the app draws: write the icons with SMARTHUNT_WRITE_ICONS=1",
            path.display()
        );
    }
}

#[test]
fn both_packages_install_every_icon_directory() {
    let manifest = std::fs::read_to_string(root().join("src-tauri/Cargo.toml")).unwrap();
    let dirs = LOOK_SIZES
        .iter()
        .map(|s| (*s, "status"))
        .chain(APP_SIZES.iter().map(|s| (*s, "apps")));
    for (size, context) in dirs {
        let source = format!("../icons/hicolor/{size}x{size}/{context}/*.png");
        let dest = format!("usr/share/icons/hicolor/{size}x{size}/{context}/");
        let deb = format!("[\"{source}\", \"{dest}\", \"644\"]");
        let rpm = format!("{{ source = \"{source}\", dest = \"/{dest}\", mode = \"644\" }}");
        assert!(manifest.contains(&deb), "the .deb lacks {deb}");
        assert!(manifest.contains(&rpm), "the .rpm lacks {rpm}");
    }
}
