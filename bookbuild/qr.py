"""QR codes as TikZ paths: vector, crisp in print, no image files."""


def tikz(url: str, size_cm: float = 2.0) -> str:
    import qrcode  # imported when a chapter is rendered: a no-op build needs none

    qr = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(url)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    squares = []
    for row, cells in enumerate(matrix):
        col = 0
        while col < n:  # one rectangle per run of dark modules keeps the path short
            if cells[col]:
                start = col
                while col < n and cells[col]:
                    col += 1
                squares.append(f"({start},{n - row}) rectangle ({col},{n - row - 1})")
            else:
                col += 1
    scale = size_cm / n
    return (
        f"\\begin{{tikzpicture}}[x={scale:.4f}cm,y={scale:.4f}cm]"
        f"\\fill[black] {' '.join(squares)};\\end{{tikzpicture}}"
    )
